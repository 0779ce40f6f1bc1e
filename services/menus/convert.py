"""Menus to protobuf and back."""

from __future__ import annotations

import json
from collections.abc import Iterable

from tenantmesh.menus.v1 import menu_pb2 as pb

from services.menus.entries import CUSTOM_SHARED_FIELDS, Entry, Kind, Source
from services.menus.models import CustomEntryRow, MenuOverrideRow
from services.menus.tree import Node, Override
from services.runtime.proto_values import copy_fields, from_proto
from services.runtime.resources import stamps


def _kind(kind: Kind) -> str:
    return f"ENTRY_KIND_{kind}"


def items(nodes: Iterable[Node], locale: str) -> list[pb.MenuItem]:
    return [
        pb.MenuItem(
            key=node.entry.key,
            kind=_kind(node.entry.kind),
            label=node.entry.label_in(locale),
            icon=node.entry.icon,
            route=node.entry.route,
            external_url=node.entry.external_url,
            form_id=node.entry.form_id,
            children=items(node.children, locale),
        )
        for node in nodes
    ]


def override_to_proto(row: MenuOverrideRow, *, orphaned: bool) -> pb.MenuOverride:
    stamped = stamps(row)
    message = pb.MenuOverride(
        key=row.entry_key,
        label_translations=json.loads(row.label_translations_json),
        required_permission=row.required_permission,
        orphaned=orphaned,
        etag=stamped["etag"],
        update_time=stamped["update_time"],
    )
    for name, value in (
        ("label", row.label),
        ("icon", row.icon),
        ("order", row.position),
        ("parent", row.parent),
        ("hidden", row.hidden),
    ):
        if value is not None:
            setattr(message, name, value)
    return message


def entry_to_proto(entry: Entry, override: MenuOverrideRow | None) -> pb.MenuEntry:
    return pb.MenuEntry(
        key=entry.key,
        source=f"ENTRY_SOURCE_{entry.source}",
        service=entry.service,
        kind=_kind(entry.kind),
        label=entry.label,
        label_translations=dict(entry.translations),
        icon=entry.icon,
        order=entry.order,
        parent=entry.parent,
        route=entry.route,
        external_url=entry.external_url,
        form_id=entry.form_id,
        required_permissions=list(entry.permissions),
        hidden=entry.hidden,
        override=override_to_proto(override, orphaned=False) if override is not None else None,
    )


def override_from_proto(message: pb.MenuOverride) -> Override:
    return Override(
        key=message.key,
        label=message.label if message.HasField("label") else None,
        translations=dict(message.label_translations),
        icon=message.icon if message.HasField("icon") else None,
        order=message.order if message.HasField("order") else None,
        parent=message.parent if message.HasField("parent") else None,
        hidden=message.hidden if message.HasField("hidden") else None,
        required_permission=message.required_permission,
    )


def custom_to_proto(row: CustomEntryRow) -> pb.CustomEntry:
    return pb.CustomEntry(
        entry_id=row.entry_id,
        kind=_kind(Kind(row.kind)),
        label_translations=json.loads(row.label_translations_json),
        order=row.position,
        required_permission=row.required_permission,
        **copy_fields(row, *CUSTOM_SHARED_FIELDS),
        **stamps(row),
    )


def custom_from_proto(message: pb.CustomEntry, key: str) -> Entry:
    kind = from_proto(Kind, pb.EntryKind, message.kind) or Kind.ROUTE
    return Entry(
        key=key,
        source=Source.CUSTOM,
        kind=kind,
        order=message.order,
        permissions=(message.required_permission,) if message.required_permission else (),
        translations=dict(message.label_translations),
        **copy_fields(message, *CUSTOM_SHARED_FIELDS),
    )
