"""A menu entry as the evaluation sees it, whatever its source, and the keys that name entries.

Every entry has a key that says where it comes from and cannot collide across sources:
"platform/<id>" (declared on the platform's RPCs), "service/<service>/<id>" (a registry
contribution), "form/<form id>" (a published form) and "custom/<id>" (the tenant's own).
Overrides and parents name entries by key, so an override survives its service's upgrades
for as long as the service keeps the entry's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Source(StrEnum):
    """tenantmesh.menus.v1.EntrySource without its prefix."""

    PLATFORM = "PLATFORM"
    SERVICE = "SERVICE"
    FORM = "FORM"
    CUSTOM = "CUSTOM"


class Kind(StrEnum):
    """tenantmesh.menus.v1.EntryKind without its prefix, as stored for custom entries."""

    ROUTE = "ROUTE"
    EXTERNAL_LINK = "EXTERNAL_LINK"
    FORM = "FORM"
    SECTION = "SECTION"


# Entries nest at most this deep (a top-level entry is at depth 1).
MAX_DEPTH = 4
ROOT = ""
PLATFORM_PREFIX = "platform/"
SERVICE_PREFIX = "service/"
FORM_PREFIX = "form/"
CUSTOM_PREFIX = "custom/"


def platform_key(entry_id: str) -> str:
    return f"{PLATFORM_PREFIX}{entry_id}"


def service_key(service: str, entry_id: str) -> str:
    return f"{SERVICE_PREFIX}{service}/{entry_id}"


def form_key(form_id: str) -> str:
    return f"{FORM_PREFIX}{form_id}"


# What a custom entry's row, its message and its Entry name alike (copied by name between them).
CUSTOM_SHARED_FIELDS = ("label", "icon", "parent", "route", "external_url", "form_id")


def custom_key(entry_id: str) -> str:
    return f"{CUSTOM_PREFIX}{entry_id}"


@dataclass(frozen=True)
class Entry:
    key: str
    source: Source
    kind: Kind
    label: str
    icon: str = ""
    order: int = 0
    parent: str = ROOT
    route: str = ""
    external_url: str = ""
    form_id: str = ""
    # Every permission needed to see it ("*" holders see everything).
    permissions: tuple[str, ...] = ()
    hidden: bool = False
    # The contributing service (SERVICE entries).
    service: str = ""
    translations: Mapping[str, str] = field(default_factory=dict)

    def label_in(self, locale: str) -> str:
        """The label in ``locale`` ("id-ID"), else in its language ("id"), else the English label (also
        for no locale). Only the translations into ``locale`` and its language decide it
        (MenuModel.label_locale relies on that)."""
        if not locale or not self.translations:
            return self.label
        found = self.translations.get(locale)
        if found is None:
            found = self.translations.get(language_of(locale))
        return found or self.label


def holds(permissions: frozenset[str], needed: tuple[str, ...]) -> bool:
    return "*" in permissions or all(permission in permissions for permission in needed)


def language_of(locale: str) -> str:
    return locale.split("-", 1)[0]


def normalise_locale(locale: str) -> str:
    """ "ID_id"/"id-id" -> "id-ID"; empty -> "en"."""
    if not locale:
        return "en"
    language, _, region = locale.replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}" if region else language.lower()
