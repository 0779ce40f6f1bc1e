"""The one evaluation of menus (services/menus/tree.py), without I/O."""

from __future__ import annotations

from services.menus.entries import ROOT, Entry, Kind, Source, normalise_locale
from services.menus.tree import Override, build_model, structure_problems, visible, walk


def entry(key: str, parent: str = ROOT, order: int = 0, *permissions: str, kind: Kind = Kind.ROUTE) -> Entry:
    return Entry(key, Source.PLATFORM, kind, key.title(), order=order, parent=parent, permissions=permissions)


def shown(entries: list[Entry], permissions: set[str], overrides: dict[str, Override] | None = None) -> list[str]:
    model = build_model(entries, [], overrides or {})
    return [node.entry.key for node in walk(visible(model, frozenset(permissions)))]


def test_order_is_position_then_key_whatever_the_sources_order() -> None:
    entries = [entry("c", order=1), entry("b", order=1), entry("a", order=2)]
    assert shown(entries, set()) == ["b", "c", "a"]
    assert shown(list(reversed(entries)), set()) == ["b", "c", "a"]


def test_permissions_filter_and_empty_sections_are_pruned() -> None:
    entries = [
        entry("s", kind=Kind.SECTION),
        entry("s/a", "s", 1, "p.a.read"),
        entry("s/b", "s", 2, "p.b.read"),
        entry("t", kind=Kind.SECTION),
        entry("t/c", "t", 1, "p.c.read"),
    ]
    assert shown(entries, {"p.a.read"}) == ["s", "s/a"]
    assert shown(entries, set()) == []
    assert shown(entries, {"*"}) == ["s", "s/a", "s/b", "t", "t/c"]


def test_a_hidden_or_refused_parent_takes_its_children_along() -> None:
    entries = [entry("a", ROOT, 0, "p.a.read"), entry("a/b", "a")]
    assert shown(entries, set()) == []
    assert shown(entries, {"p.a.read"}, {"a": Override("a", hidden=True)}) == []


def test_overrides_only_add_permissions() -> None:
    entries = [entry("a", ROOT, 0, "p.a.read")]
    tightened = {"a": Override("a", required_permission="p.extra")}
    assert shown(entries, {"p.a.read"}, tightened) == []
    assert shown(entries, {"p.a.read", "p.extra"}, tightened) == ["a"]
    model = build_model(entries, [], tightened)
    assert model.entries["a"].permissions == ("p.a.read", "p.extra")


def test_cycles_and_excess_depth_from_sources_cannot_loop_the_evaluation() -> None:
    # a -> b -> a (an override made earlier, a source changed since): neither can be placed.
    entries = [entry("a", "b"), entry("b", "a"), entry("c")]
    assert shown(entries, set()) == ["c"]
    chain = [entry("l1"), entry("l2", "l1"), entry("l3", "l2"), entry("l4", "l3"), entry("l5", "l4")]
    assert shown(chain, set()) == ["l1", "l2", "l3", "l4"]


def test_an_unknown_parent_puts_the_entry_at_the_top() -> None:
    assert shown([entry("a", "gone")], set()) == ["a"]


def test_structure_problems_name_the_field_and_reason() -> None:
    entries = {e.key: e for e in [entry("l1"), entry("l2", "l1"), entry("l3", "l2"), entry("l4", "l3")]}
    assert structure_problems({**entries, "x": entry("x", "nope")}, "x", "f")[0].reason == "MENU_PARENT_NOT_FOUND"
    assert structure_problems({**entries, "x": entry("x", "l4")}, "x", "f")[0].reason == "MENU_TOO_DEEP"
    assert structure_problems({**entries, "l1": entry("l1", "l3")}, "l1", "f")[0].reason == "MENU_CYCLE"
    # Moving the top of a 4-level chain one level down would make its bottom the 5th.
    moved = {**entries, "top": entry("top"), "l1": entry("l1", "top")}
    assert structure_problems(moved, "l1", "f")[0].reason == "MENU_TOO_DEEP"
    assert structure_problems({**entries, "x": entry("x", "l3")}, "x", "f") == []


def test_labels_fall_back_from_region_to_language_to_english() -> None:
    labelled = Entry("a", Source.PLATFORM, Kind.ROUTE, "Users", translations={"id": "Pengguna", "pt-BR": "Usuários"})
    assert labelled.label_in(normalise_locale("id-id")) == "Pengguna"
    assert labelled.label_in(normalise_locale("pt_br")) == "Usuários"
    assert labelled.label_in(normalise_locale("fr")) == "Users"
    assert labelled.label_in(normalise_locale("")) == "Users"


def test_the_label_locale_gives_every_entry_the_labels_of_the_locale_asked_for() -> None:
    """Menus are cached by MenuModel.label_locale: it must not change a single label."""
    translated = [
        Entry("a", Source.PLATFORM, Kind.ROUTE, "Users", translations={"id": "Pengguna", "pt-BR": "Usuários"}),
        Entry("b", Source.SERVICE, Kind.ROUTE, "Home", translations={"en": "Start", "pt": "Início"}),
        Entry("c", Source.CUSTOM, Kind.ROUTE, "Help"),
    ]
    model = build_model(translated, [], {})
    for asked in ("", "en", "en-GB", "id", "id-ID", "pt", "pt-BR", "pt-PT", "fr", "fr-CA", "zh-Hant-TW"):
        locale = normalise_locale(asked)
        labels = model.label_locale(locale)
        assert labels in {"", *model.locales}
        assert [e.label_in(labels) for e in translated] == [e.label_in(locale) for e in translated], asked
