"""The platform's own entries, read from the descriptors: each declared on the RPC it leads to.

An RPC's ``(tenantmesh.type.v1.menu)`` option is its entry; the entry requires the RPC's own
permission (its ``(tenantmesh.type.v1.access)`` option), so a screen is never offered to someone
its RPC would refuse, and there is no second list to drift from the protos. The sections that
group them are the only entries declared here: they lead nowhere and need no permission.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf import descriptor_pool
from tenantmesh.type.v1 import menu_pb2

from services.menus.entries import ROOT, Entry, Kind, Source, platform_key
from services.runtime.access import INFRASTRUCTURE_SERVICES, policy_of

# The extension handle, typed loosely: the generated module is not type-checked.
_MENU: Any = menu_pb2.menu

FORMS_SECTION = "forms"
ADMINISTRATION_SECTION = "administration"
PLATFORM_SECTION = "platform"
SECTIONS = (
    Entry(
        platform_key(FORMS_SECTION), Source.PLATFORM, Kind.SECTION, "Forms", "file-text", 100,
        translations={"id": "Formulir"},
    ),
    Entry(
        platform_key(ADMINISTRATION_SECTION), Source.PLATFORM, Kind.SECTION, "Administration", "settings", 900,
        translations={"id": "Administrasi"},
    ),
    # What platform operators do across tenants (platform-scoped RPCs: only "*" holders see it).
    Entry(
        platform_key(PLATFORM_SECTION), Source.PLATFORM, Kind.SECTION, "Platform", "server", 1000,
        translations={"id": "Platform"},
    ),
)  # fmt: skip


def platform_entries(service_names: Iterable[str], pool: descriptor_pool.DescriptorPool | None = None) -> list[Entry]:
    """The sections and every entry declared on a method of the named services."""
    pool = pool or descriptor_pool.Default()
    sections = {entry.key for entry in SECTIONS}
    found = list(SECTIONS)
    for name in service_names:
        if name in INFRASTRUCTURE_SERVICES:
            continue
        for method in pool.FindServiceByName(name).methods:
            options = method.GetOptions()
            policy = policy_of(method)
            if not options.HasExtension(_MENU) or policy is None:
                continue
            link = options.Extensions[_MENU]
            parent = platform_key(link.section) if link.section else ROOT
            if parent != ROOT and parent not in sections:
                raise ValueError(f"{method.full_name}: menu section {link.section!r} is not a platform section")
            found.append(
                Entry(
                    key=platform_key(link.id),
                    source=Source.PLATFORM,
                    kind=Kind.ROUTE,
                    label=link.label,
                    icon=link.icon,
                    order=link.order,
                    parent=parent,
                    route=link.route,
                    permissions=(policy.permission,) if policy.permission else (),
                    translations=dict(link.label_translations),
                )
            )
    keys = [entry.key for entry in found]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"menu entries declared twice: {', '.join(duplicates)}")
    return found
