"""The tenant's overrides and custom entries, in its own database.

Every change commits with a ``menu.*`` event (through the unit of work), which drops the
tenant's computed menus in every process. Etags are per override and per custom entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from services.menus.entries import CUSTOM_PREFIX, CUSTOM_SHARED_FIELDS, Entry, Kind, Source, custom_key
from services.menus.models import CustomEntryRow, MenuOverrideRow
from services.menus.reasons import MenusReason
from services.menus.tree import Override
from services.runtime.clock import utcnow
from services.runtime.context import current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.errors import NotFound, ResourceExhausted
from services.runtime.events import Event
from services.runtime.limits import count_after_insert, read_after_insert
from services.runtime.proto_values import copy_fields
from services.runtime.resources import bump_revision, changed_concurrently, check_etag
from services.runtime.tenant_db import tenant_session
from services.runtime.unit_of_work import SessionWork, UnitOfWork

MENU_EVENT_PREFIX = "menu."


@dataclass(frozen=True)
class Placement:
    """Where a move puts an entry, and the revision of the row that placed it when the move read it
    (its custom entry, else its override; 0: it had no override)."""

    parent: str
    order: int
    revision: int


def menu_changed(kind: str, key: str) -> Event:
    return Event(f"{MENU_EVENT_PREFIX}{kind}", current_tenant().tenant_id, {"key": key})


def override_of(row: MenuOverrideRow) -> Override:
    return Override(
        key=row.entry_key,
        label=row.label,
        translations=json.loads(row.label_translations_json),
        icon=row.icon,
        order=row.position,
        parent=row.parent,
        hidden=row.hidden,
        required_permission=row.required_permission,
    )


def custom_entry_of(row: CustomEntryRow) -> Entry:
    return Entry(
        key=custom_key(row.entry_id),
        source=Source.CUSTOM,
        kind=Kind(row.kind),
        order=row.position,
        permissions=(row.required_permission,) if row.required_permission else (),
        translations=json.loads(row.label_translations_json),
        **copy_fields(row, *CUSTOM_SHARED_FIELDS),
    )


def override_values(override: Override) -> dict[str, Any]:
    return {
        "label": override.label,
        "label_translations_json": json.dumps(dict(sorted(override.translations.items()))),
        "icon": override.icon,
        "position": override.order,
        "parent": override.parent,
        "hidden": override.hidden,
        "required_permission": override.required_permission,
    }


def custom_values(entry: Entry) -> dict[str, Any]:
    return {
        "kind": entry.kind.value,
        "label_translations_json": json.dumps(dict(sorted(entry.translations.items()))),
        "position": entry.order,
        "required_permission": entry.permissions[0] if entry.permissions else "",
        **copy_fields(entry, *CUSTOM_SHARED_FIELDS),
    }


class MenuStore:
    def __init__(self, db: DatabaseRouter, work: UnitOfWork) -> None:
        self._db = db
        self._work = work

    async def load(self) -> tuple[dict[str, MenuOverrideRow], dict[str, CustomEntryRow]]:
        async with tenant_session(self._db) as session:
            overrides = (await session.execute(select(MenuOverrideRow))).scalars()
            custom = (await session.execute(select(CustomEntryRow))).scalars()
            return {row.entry_key: row for row in overrides}, {row.entry_id: row for row in custom}

    async def set_override(
        self, override: Override, etag: str, check_added: Callable[[list[str]], None] | None = None
    ) -> MenuOverrideRow:
        """``check_added`` sees every override's key once a new one is added, and raises to refuse it."""
        async with self._work.tenant() as work:
            row = await work.session.get(MenuOverrideRow, override.key, with_for_update=True)
            values = override_values(override)
            if row is None:
                check_etag(0, etag, "override")
                now = utcnow()
                work.session.add(
                    MenuOverrideRow(entry_key=override.key, revision=1, create_time=now, update_time=now, **values)
                )
                if check_added is not None:
                    check_added(await _keys_after_insert(work))
            else:
                check_etag(row.revision, etag, "override")
                await bump_revision(work.session, row, "override", **values)
            work.emit(menu_changed("override_set", override.key))
        return await self._reread_override(override.key)

    async def clear_override(self, key: str, etag: str) -> None:
        async with self._work.tenant() as work:
            row = await work.session.get(MenuOverrideRow, key, with_for_update=True)
            if row is None:
                raise NotFound("no override of that entry", reason=MenusReason.MENU_OVERRIDE_NOT_FOUND)
            check_etag(row.revision, etag, "override")
            await work.session.delete(row)
            work.emit(menu_changed("override_cleared", key))

    async def move(self, placements: Mapping[str, Placement], moved: str) -> None:
        """Writes each entry's place in one transaction: custom entries directly, the others through
        their overrides (created where missing). A row changed since the move read it aborts it all."""
        async with self._work.tenant() as work:
            for key, placement in placements.items():
                await _place(work, key, placement)
            work.emit(menu_changed("entry_moved", moved))

    async def find_created(self, request_id: str) -> CustomEntryRow | None:
        async with tenant_session(self._db) as session:
            found: CustomEntryRow | None = (
                await session.execute(select(CustomEntryRow).where(CustomEntryRow.request_id == request_id))
            ).scalar_one_or_none()
            return found

    async def create_custom(self, entry_id: str, entry: Entry, request_id: str, limit: int) -> CustomEntryRow:
        """Creates the entry unless the tenant has ``limit`` custom entries already."""
        now = utcnow()
        row = CustomEntryRow(
            entry_id=entry_id,
            request_id=request_id or None,
            revision=1,
            create_time=now,
            update_time=now,
            **custom_values(entry),
        )
        async with self._work.tenant() as work:
            work.session.add(row)
            if await count_after_insert(work.session, CustomEntryRow) > limit:
                raise ResourceExhausted(
                    f"a tenant has at most {limit} custom menu entries", reason=MenusReason.MENU_LIMIT_REACHED
                )
            work.emit(menu_changed("custom_entry_created", entry.key))
        return row

    async def update_custom(
        self, entry_id: str, etag: str, change: Callable[[CustomEntryRow], dict[str, Any]]
    ) -> CustomEntryRow:
        """``change`` sees the current row (after the etag check) and returns the columns to write;
        it raises to refuse the change."""
        async with self._work.tenant() as work:
            row = await work.session.get(CustomEntryRow, entry_id, with_for_update=True)
            if row is None:
                raise NotFound("no such custom entry", reason=MenusReason.MENU_ENTRY_NOT_FOUND)
            check_etag(row.revision, etag, "custom entry")
            await bump_revision(work.session, row, "custom entry", **change(row))
            work.emit(menu_changed("custom_entry_updated", custom_key(entry_id)))
        return await self._reread_custom(entry_id)

    async def delete_custom(self, entry_id: str, etag: str, check: Callable[[], None]) -> None:
        async with self._work.tenant() as work:
            row = await work.session.get(CustomEntryRow, entry_id, with_for_update=True)
            if row is None:
                raise NotFound("no such custom entry", reason=MenusReason.MENU_ENTRY_NOT_FOUND)
            check_etag(row.revision, etag, "custom entry")
            check()
            await work.session.delete(row)
            work.emit(menu_changed("custom_entry_deleted", custom_key(entry_id)))

    async def _reread_override(self, key: str) -> MenuOverrideRow:
        async with tenant_session(self._db) as session:
            row = await session.get(MenuOverrideRow, key)
            assert row is not None  # just written in a committed transaction
            return row

    async def _reread_custom(self, entry_id: str) -> CustomEntryRow:
        async with tenant_session(self._db) as session:
            row = await session.get(CustomEntryRow, entry_id)
            assert row is not None  # just written in a committed transaction
            return row


# Limits are counted after the insert, with a locking read (services/runtime/limits.py): two
# concurrent writes cannot both see room for one more.


async def _keys_after_insert(work: SessionWork) -> list[str]:
    return await read_after_insert(work.session, select(MenuOverrideRow.entry_key))


async def _place(work: SessionWork, key: str, placement: Placement) -> None:
    parent, order = placement.parent, placement.order
    if key.startswith(CUSTOM_PREFIX):
        row = await work.session.get(CustomEntryRow, key.removeprefix(CUSTOM_PREFIX), with_for_update=True)
        if row is None or row.revision != placement.revision:
            raise changed_concurrently("menu entry")
        await bump_revision(work.session, row, "custom entry", parent=parent, position=order)
        return
    override = await work.session.get(MenuOverrideRow, key, with_for_update=True)
    if (0 if override is None else override.revision) != placement.revision:
        raise changed_concurrently("menu entry")
    if override is None:
        now = utcnow()
        work.session.add(
            MenuOverrideRow(
                entry_key=key, revision=1, create_time=now, update_time=now,
                **override_values(Override(key=key, parent=parent, order=order)),
            )
        )  # fmt: skip
    else:
        await bump_revision(work.session, override, "override", parent=parent, position=order)
