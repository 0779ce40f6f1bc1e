"""The one evaluation of a tenant's menu: GetMyMenu, PreviewMenu and the reverse lookups all use it,
so what an administrator is told about an entry and what its users see cannot disagree.

A ``MenuModel`` is every entry of a tenant with its overrides applied, arranged as a tree; it does
not depend on who asks. ``visible`` cuts it down to what a permission set may see: an entry is
shown when it is not hidden, its permissions are held and its parent is shown; a section only
while something under it is shown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from services.menus.entries import MAX_DEPTH, ROOT, Entry, Kind, holds, language_of
from services.menus.reasons import MenusReason
from services.runtime.errors import FieldViolation


@dataclass(frozen=True)
class Override:
    """A tenant's change to an entry it does not own; None keeps the entry's own value."""

    key: str
    label: str | None = None
    translations: Mapping[str, str] = field(default_factory=dict)
    icon: str | None = None
    order: int | None = None
    parent: str | None = None
    hidden: bool | None = None
    # Needed on top of the entry's own permissions: an override tightens, never loosens.
    required_permission: str = ""


def apply_override(entry: Entry, override: Override) -> Entry:
    permissions = entry.permissions
    if override.required_permission and override.required_permission not in permissions:
        permissions = (*permissions, override.required_permission)
    return dataclasses.replace(
        entry,
        label=entry.label if override.label is None else override.label,
        translations={**entry.translations, **override.translations},
        icon=entry.icon if override.icon is None else override.icon,
        order=entry.order if override.order is None else override.order,
        parent=entry.parent if override.parent is None else override.parent,
        hidden=entry.hidden if override.hidden is None else override.hidden,
        permissions=permissions,
    )


def _sort_key(entry: Entry) -> tuple[int, str]:
    # Stable order: position, then key, whatever order the sources listed them in.
    return entry.order, entry.key


@dataclass(frozen=True)
class MenuModel:
    # Effective entries (overrides applied), by key; entries in a cycle or too deep are left out
    # of ``children`` (they cannot be placed) but stay here for administrators to repair.
    entries: Mapping[str, Entry]
    # Entries as their sources declare them (no custom entries), by key.
    declared: Mapping[str, Entry]
    overrides: Mapping[str, Override]
    # Ordered child keys by parent key (ROOT for the top level).
    children: Mapping[str, tuple[str, ...]]
    # Every locale some label is translated into.
    locales: frozenset[str] = frozenset()

    @property
    def orphaned(self) -> list[Override]:
        return [o for key, o in sorted(self.overrides.items()) if key not in self.entries]

    def label_locale(self, locale: str) -> str:
        """The locale whose labels are those of ``locale`` (normalised) for every entry: itself, else its
        language, if some label is translated into it; else "" (the labels as declared). Menus are
        cached by it, so the locales a caller can make up (any BCP 47 tag) share the few menus there are."""
        if locale in self.locales:
            return locale
        language = language_of(locale)
        return language if language in self.locales else ""


def build_model(declared: Iterable[Entry], custom: Iterable[Entry], overrides: Mapping[str, Override]) -> MenuModel:
    own = {entry.key: entry for entry in declared}
    entries = {key: apply_override(entry, overrides[key]) if key in overrides else entry for key, entry in own.items()}
    entries.update((entry.key, entry) for entry in custom)
    by_parent: dict[str, list[Entry]] = {}
    for entry in entries.values():
        # A parent that is gone (its service dropped it) puts the entry at the top level.
        parent = entry.parent if entry.parent in entries else ROOT
        by_parent.setdefault(parent, []).append(entry)
    children: dict[str, tuple[str, ...]] = {}
    # Only what is reachable from the top within MAX_DEPTH is placed: a cycle a source introduced
    # after an override was set cannot loop the evaluation.
    frontier = [(ROOT, 0)]
    while frontier:
        parent, depth = frontier.pop()
        if depth >= MAX_DEPTH:
            continue
        kids = sorted(by_parent.get(parent, ()), key=_sort_key)
        if kids:
            children[parent] = tuple(kid.key for kid in kids)
            frontier.extend((kid.key, depth + 1) for kid in kids)
    locales = frozenset(locale for entry in entries.values() for locale in entry.translations)
    return MenuModel(entries=entries, declared=own, overrides=dict(overrides), children=children, locales=locales)


@dataclass(frozen=True)
class Node:
    entry: Entry
    children: tuple[Node, ...]


def visible(model: MenuModel, permissions: frozenset[str]) -> tuple[Node, ...]:
    """The tree ``permissions`` may see, in order, empty sections pruned."""

    def visit(key: str) -> Node | None:
        entry = model.entries[key]
        if entry.hidden or not holds(permissions, entry.permissions):
            return None
        kids = tuple(node for child in model.children.get(key, ()) if (node := visit(child)) is not None)
        if entry.kind is Kind.SECTION and not kids:
            return None
        return Node(entry, kids)

    return tuple(node for key in model.children.get(ROOT, ()) if (node := visit(key)) is not None)


def walk(nodes: Iterable[Node]) -> Iterator[Node]:
    """Depth first, in menu order."""
    for node in nodes:
        yield node
        yield from walk(node.children)


def sees(model: MenuModel, permissions: frozenset[str], key: str) -> bool:
    return any(node.entry.key == key for node in walk(visible(model, permissions)))


def structure_problems(entries: Mapping[str, Entry], key: str, field_path: str) -> list[FieldViolation]:
    """What is wrong with placing ``entries[key]`` where it says: its parent unknown, a cycle through it,
    or it or something under it deeper than MAX_DEPTH. ``entries`` holds the change already."""
    entry = entries[key]
    if entry.parent == ROOT:
        depth = 1
    else:
        if entry.parent not in entries:
            return [
                FieldViolation(field_path, f"no entry {entry.parent!r} to go under", MenusReason.MENU_PARENT_NOT_FOUND)
            ]
        depth, seen, at = 1, {key}, entry.parent
        while at != ROOT:
            if at in seen:
                return [FieldViolation(field_path, f"{entry.parent!r} is under {key!r}", MenusReason.MENU_CYCLE)]
            seen.add(at)
            depth += 1
            parent = entries[at].parent
            at = parent if parent in entries else ROOT
    if depth + _height(entries, key) - 1 > MAX_DEPTH:
        return [FieldViolation(field_path, f"menus nest at most {MAX_DEPTH} levels", MenusReason.MENU_TOO_DEEP)]
    return []


def _height(entries: Mapping[str, Entry], key: str) -> int:
    """Levels from ``key`` down to its deepest descendant (1: no children); cycles are cut."""
    by_parent: dict[str, list[str]] = {}
    for entry in entries.values():
        by_parent.setdefault(entry.parent, []).append(entry.key)
    height, level, seen = 0, [key], {key}
    while level:
        height += 1
        level = [child for parent in level for child in by_parent.get(parent, ()) if child not in seen]
        seen.update(level)
    return height
