"""What tenant administrators do to their menu: custom entries, overrides, moves, and the questions
they ask of it (preview, who can see an entry, what a member reaches).

Every change is validated against the tenant's current model with the change applied: an
unknown parent, a cycle, nesting deeper than MAX_DEPTH, a duplicate id or a target that does not
fit the entry's kind is INVALID_ARGUMENT naming the field. The questions use the evaluation that
GetMyMenu uses (services.menus.tree), for the permission sets auth reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from tenantmesh.menus.v1 import menu_pb2
from tenantmesh.menus.v1 import menu_service_pb2 as pb

from services.menus import convert
from services.menus.entries import CUSTOM_PREFIX, ROOT, Entry, Kind, custom_key
from services.menus.menus import MenuBook, TenantMenu
from services.menus.models import CustomEntryRow
from services.menus.people import Member, People, permissions_of
from services.menus.reasons import MenusReason
from services.menus.store import Placement, custom_entry_of, custom_values
from services.menus.tree import apply_override, structure_problems, visible, walk
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, ResourceExhausted
from services.runtime.resources import check_update_mask

CUSTOM_UPDATABLE = (
    "label",
    "label_translations",
    "icon",
    "order",
    "parent",
    "route",
    "external_url",
    "form_id",
    "required_permission",
)
# Mask paths whose Entry attribute is named otherwise.
_ENTRY_FIELD = {"label_translations": "translations", "required_permission": "permissions"}
# Every member is sent the custom entries they may see: a tenant has at most this many.
MAX_CUSTOM_ENTRIES = 200
# Overrides of entries that are not there (kept for when they come back) have no bound from the
# entries themselves: at most this many are written. Those orphaned later (a service disabled) are
# kept whatever their number.
MAX_ABSENT_OVERRIDES = 100
# Siblings are renumbered by this step on a move, leaving room to insert between them.
_ORDER_STEP = 10
_TARGETS = {Kind.ROUTE: "route", Kind.EXTERNAL_LINK: "external_url", Kind.FORM: "form_id", Kind.SECTION: None}


def _refuse(violations: Sequence[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument(
            "the menu change is invalid: " + "; ".join(f"{v.field}: {v.description}" for v in violations),
            violations=violations,
            reason=violations[0].reason,
        )


def label_problems(entry: Entry, prefix: str) -> list[FieldViolation]:
    """Every entry has a label. Not said in the proto: an update whose mask does not name the label
    need not send one."""
    return [] if entry.label else [FieldViolation(f"{prefix}.label", "an entry needs a label")]


def target_problems(entry: Entry, prefix: str) -> list[FieldViolation]:
    """An entry leads to exactly the target its kind names: a route, an https URL, a form, or nothing."""
    needed = _TARGETS[entry.kind]
    found = []
    for name in ("route", "external_url", "form_id"):
        value = getattr(entry, name)
        if name == needed and not value:
            found.append(FieldViolation(f"{prefix}.{name}", f"a {entry.kind} entry needs a {name}"))
        elif name != needed and value:
            found.append(
                FieldViolation(
                    f"{prefix}.{name}", f"a {entry.kind} entry has no {name}", MenusReason.MENU_TARGET_INVALID
                )
            )
    return found


def _absent_within_limit(entries: Mapping[str, Entry]) -> Callable[[list[str]], None]:
    def check(keys: list[str]) -> None:
        if sum(key not in entries for key in keys) > MAX_ABSENT_OVERRIDES:
            raise ResourceExhausted(
                f"a tenant overrides at most {MAX_ABSENT_OVERRIDES} entries that are not there: clear orphaned ones",
                reason=MenusReason.MENU_LIMIT_REACHED,
            )

    return check


def _revision_read(menu: TenantMenu, key: str) -> int:
    """The revision of the row placing ``key`` as ``menu`` read it: its custom entry, else its
    override (0: none); a move writes only if it is still the same."""
    if key.startswith(CUSTOM_PREFIX):
        return menu.custom_rows[key.removeprefix(CUSTOM_PREFIX)].revision
    override = menu.override_rows.get(key)
    return 0 if override is None else override.revision


def _not_found(key: str) -> NotFound:
    return NotFound(f"no menu entry {key!r}", reason=MenusReason.MENU_ENTRY_NOT_FOUND)


class MenuAdmin:
    def __init__(self, book: MenuBook, people: People) -> None:
        self._book = book
        self._store = book.store
        self._people = people

    async def list_entries(self) -> pb.ListMenuEntriesResponse:
        menu = await self._book.tenant_menu(fresh=True)
        model = menu.model
        return pb.ListMenuEntriesResponse(
            entries=[
                convert.entry_to_proto(model.entries[key], menu.override_rows.get(key)) for key in sorted(model.entries)
            ],
            orphaned_overrides=[
                convert.override_to_proto(menu.override_rows[o.key], orphaned=True) for o in model.orphaned
            ],
        )

    # ------------------------------------------------------------------ custom entries

    async def create_custom(self, message: menu_pb2.CustomEntry, request_id: str) -> CustomEntryRow:
        if request_id and (earlier := await self._store.find_created(request_id)) is not None:
            return earlier
        key = custom_key(message.entry_id)
        entry = convert.custom_from_proto(message, key)
        menu = await self._book.tenant_menu(fresh=True)
        problems = []
        if message.kind == menu_pb2.ENTRY_KIND_UNSPECIFIED:
            problems.append(FieldViolation("custom_entry.kind", "say what the entry leads to"))
        problems.extend(label_problems(entry, "custom_entry"))
        if key in menu.model.entries:
            problems.append(
                FieldViolation("custom_entry.entry_id", "an entry has this id", MenusReason.MENU_ENTRY_DUPLICATE)
            )
        _refuse(problems)
        _refuse(target_problems(entry, "custom_entry"))
        _refuse(structure_problems({**menu.model.entries, key: entry}, key, "custom_entry.parent"))
        try:
            return await self._store.create_custom(message.entry_id, entry, request_id, MAX_CUSTOM_ENTRIES)
        except IntegrityError:
            # Created concurrently: by a retry of this very request, or with the same id.
            if request_id and (earlier := await self._store.find_created(request_id)) is not None:
                return earlier
            _refuse([FieldViolation("custom_entry.entry_id", "an entry has this id", MenusReason.MENU_ENTRY_DUPLICATE)])
            raise

    async def update_custom(self, message: menu_pb2.CustomEntry, mask: Sequence[str]) -> CustomEntryRow:
        check_update_mask(mask, CUSTOM_UPDATABLE)
        key = custom_key(message.entry_id)
        menu = await self._book.tenant_menu(fresh=True)
        wanted = convert.custom_from_proto(message, key)

        def change(row: CustomEntryRow) -> dict[str, Any]:
            current = custom_entry_of(row)
            updated = dataclasses.replace(
                current,
                **{_ENTRY_FIELD.get(name, name): getattr(wanted, _ENTRY_FIELD.get(name, name)) for name in mask},
            )
            _refuse(label_problems(updated, "custom_entry") + target_problems(updated, "custom_entry"))
            _refuse(structure_problems({**menu.model.entries, key: updated}, key, "custom_entry.parent"))
            return custom_values(updated)

        return await self._store.update_custom(message.entry_id, message.etag, change)

    async def delete_custom(self, entry_id: str, etag: str) -> None:
        key = custom_key(entry_id)
        menu = await self._book.tenant_menu(fresh=True)

        def check() -> None:
            if any(entry.parent == key for entry in menu.model.entries.values()):
                raise FailedPrecondition(
                    "entries are under this one: move them first", reason=MenusReason.MENU_ENTRY_HAS_CHILDREN
                )

        await self._store.delete_custom(entry_id, etag, check)

    # ------------------------------------------------------------------ overrides and moves

    async def set_override(self, message: menu_pb2.MenuOverride) -> menu_pb2.MenuOverride:
        override = convert.override_from_proto(message)
        menu = await self._book.tenant_menu(fresh=True)
        model = menu.model
        if override.key in model.declared:
            changed = apply_override(model.declared[override.key], override)
            _refuse(structure_problems({**model.entries, override.key: changed}, override.key, "override.parent"))
        elif override.parent and override.parent not in model.entries:
            # The entry is gone (or not there yet): the override waits, but its parent must exist now.
            _refuse([FieldViolation("override.parent", "no such entry to go under", MenusReason.MENU_PARENT_NOT_FOUND)])
        absent = override.key not in model.entries
        row = await self._store.set_override(
            override, message.etag, _absent_within_limit(model.entries) if absent else None
        )
        return convert.override_to_proto(row, orphaned=absent)

    async def clear_override(self, key: str, etag: str) -> None:
        await self._store.clear_override(key, etag)

    async def move(self, key: str, parent: str, position: int) -> menu_pb2.MenuEntry:
        menu = await self._book.tenant_menu(fresh=True)
        model = menu.model
        if key not in model.entries:
            raise _not_found(key)
        if parent and parent not in model.entries:
            _refuse([FieldViolation("parent", "no such entry to go under", MenusReason.MENU_PARENT_NOT_FOUND)])
        moved = dataclasses.replace(model.entries[key], parent=parent or ROOT)
        _refuse(structure_problems({**model.entries, key: moved}, key, "parent"))
        siblings = [
            sibling
            for sibling in sorted(model.entries.values(), key=lambda e: (e.order, e.key))
            if sibling.parent == (parent or ROOT) and sibling.key != key
        ]
        siblings.insert(min(position, len(siblings)), moved)
        placements = {
            sibling.key: Placement(parent or ROOT, (index + 1) * _ORDER_STEP, _revision_read(menu, sibling.key))
            for index, sibling in enumerate(siblings)
            if sibling.key == key or sibling.order != (index + 1) * _ORDER_STEP
        }
        await self._store.move(placements, key)
        after = await self._book.tenant_menu(fresh=True)
        return convert.entry_to_proto(after.model.entries[key], after.override_rows.get(key))

    # ------------------------------------------------------------------ questions

    async def preview(self, request: pb.PreviewMenuRequest) -> pb.PreviewMenuResponse:
        roles = await self._people.roles()
        if request.WhichOneof("subject") == "user_id":
            names = (await self._member(request.user_id)).roles
        else:
            names = tuple(request.roles.roles)
            unknown = [
                FieldViolation(f"roles.roles[{index}]", f"no role {name!r}", MenusReason.ROLE_NOT_FOUND)
                for index, name in enumerate(names)
                if name not in roles
            ]
            _refuse(unknown)
        menu = await self._book.menu_for(permissions_of(roles, names), request.locale)
        return pb.PreviewMenuResponse(items=menu.items)

    async def who_can_see(self, key: str) -> pb.WhoCanSeeResponse:
        menu = await self._book.tenant_menu()
        if key not in menu.model.entries:
            raise _not_found(key)
        roles = await self._people.roles()
        seen: dict[frozenset[str], bool] = {}

        def sees(permissions: frozenset[str]) -> bool:
            # Members share a few permission sets: each is evaluated once.
            if permissions not in seen:
                seen[permissions] = any(node.entry.key == key for node in walk(visible(menu.model, permissions)))
            return seen[permissions]

        return pb.WhoCanSeeResponse(
            roles=[name for name, permissions in roles.items() if sees(permissions)],
            users=[
                pb.MenuViewer(user_id=member.user_id, email=member.email, roles=member.roles)
                for member in sorted(await self._people.members(), key=lambda m: m.user_id)
                if sees(permissions_of(roles, member.roles))
            ],
        )

    async def what_can_reach(self, user_id: str) -> pb.WhatCanReachResponse:
        member = await self._member(user_id)
        permissions = permissions_of(await self._people.roles(), member.roles)
        menu = await self._book.tenant_menu()
        return pb.WhatCanReachResponse(
            entries=[
                pb.ReachableEntry(
                    key=node.entry.key,
                    label=node.entry.label,
                    route=node.entry.route or node.entry.external_url,
                    required_permissions=node.entry.permissions,
                )
                for node in walk(visible(menu.model, permissions))
            ]
        )

    async def _member(self, user_id: str) -> Member:
        for member in await self._people.members():
            if member.user_id == user_id:
                return member
        # The same answer for someone of another tenant and for no one.
        raise NotFound("no such member of this tenant", reason=MenusReason.USER_NOT_FOUND)
