"""The layout of a definition: its elements, their paths and answer levels, and agreement with the schema.

An answer *level* is the object holding answers: the form's (root), a group's, or one item of a
repeating group. Sections and pages add no level: their children answer at the level they are in, so
one level's keys (sections' included) must be unique. Each element has a dotted ``path`` (the keys of
its enclosing groups and its own) by which rules name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from services.forms.engine.logic import Program, compile_rule
from services.forms.engine.model import Problem, Reason
from services.forms.engine.schema import resolve
from services.forms.engine.values import JSON, deep_equal, is_number, pointer

KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
RESERVED_KEYS: Final = frozenset({"__proto__", "constructor", "prototype"})  # JavaScript object internals

VALUE_TYPES: Final = frozenset(
    {
        "SHORT_TEXT", "LONG_TEXT", "NUMBER", "INTEGER", "CHECKBOX", "SINGLE_CHOICE", "MULTIPLE_CHOICE",
        "DATE", "DATE_TIME", "TIME", "EMAIL", "URL", "PHONE", "FILE", "GROUP", "REPEATING_GROUP",
        "HIDDEN", "COMPUTED",
    }
)  # fmt: skip
LAYOUT_ONLY_TYPES: Final = frozenset({"SECTION", "PAGE"})
CONTAINER_TYPES: Final = frozenset({"SECTION", "PAGE", "GROUP", "REPEATING_GROUP"})
LEVEL_TYPES: Final = frozenset({"GROUP", "REPEATING_GROUP"})
CHOICE_TYPES: Final = frozenset({"SINGLE_CHOICE", "MULTIPLE_CHOICE"})

# The widgets each type takes besides WIDGET_UNSPECIFIED (its default).
WIDGETS: Final[dict[str, frozenset[str]]] = {
    "SHORT_TEXT": frozenset({"TEXT_INPUT", "TEXTAREA"}),
    "LONG_TEXT": frozenset({"TEXTAREA", "TEXT_INPUT"}),
    "NUMBER": frozenset({"NUMBER_INPUT", "SLIDER"}),
    "INTEGER": frozenset({"NUMBER_INPUT", "SLIDER"}),
    "CHECKBOX": frozenset({"CHECKBOX", "SWITCH"}),
    "SINGLE_CHOICE": frozenset({"SELECT", "RADIO"}),
    "MULTIPLE_CHOICE": frozenset({"CHECKBOXES", "MULTI_SELECT"}),
    "DATE": frozenset({"DATE_PICKER", "TEXT_INPUT"}),
    "DATE_TIME": frozenset({"DATE_TIME_PICKER", "TEXT_INPUT"}),
    "TIME": frozenset({"TIME_PICKER", "TEXT_INPUT"}),
    "EMAIL": frozenset({"EMAIL_INPUT", "TEXT_INPUT"}),
    "URL": frozenset({"URL_INPUT", "TEXT_INPUT"}),
    "PHONE": frozenset({"PHONE_INPUT", "TEXT_INPUT"}),
    "FILE": frozenset({"FILE_UPLOAD"}),
    "COMPUTED": frozenset({"READ_ONLY"}),
}
# Types whose value is a string in a given format.
FORMAT_OF_TYPE: Final = {"EMAIL": "email", "URL": "uri", "DATE": "date", "DATE_TIME": "date-time", "TIME": "time"}
LOCALIZED_FIELD_TEXTS: Final = ("label", "helpText", "placeholder")


@dataclass(eq=False)
class Element:
    """One element of the layout (identity-compared: elements are graph nodes)."""

    key: str
    type: str
    path: str
    raw: dict[str, Any]
    definition_parts: tuple[str | int, ...]
    index: int  # position in document order
    parent: Element | None  # the layout container
    level: Element | None  # the group or repeating group whose object holds the answer (None: the form's)
    repeats: tuple[Element, ...]  # enclosing repeating groups, outermost first
    children: list[Element] = field(default_factory=list)
    # Filled in by the schema agreement: where the value's schema is, and for groups and repeating
    # groups the object schema of their level.
    schema_parts: list[str | int] | None = None
    schema: JSON = None
    level_parts: list[str | int] | None = None
    required_by_schema: bool = False
    _pointer: str | None = None  # the part after the last enclosing repeating group's index
    _pointer_pieces: tuple[str, ...] = ()
    _levels: tuple[Element, ...] | None = None
    _programs: dict[str, Program | None] = field(default_factory=dict)

    @property
    def is_value(self) -> bool:
        return self.type in VALUE_TYPES

    @property
    def levels(self) -> tuple[Element, ...]:
        """The groups and repeating groups around this element, outermost first."""
        if self._levels is None:
            chain: list[Element] = []
            level = self.level
            while level is not None:
                chain.append(level)
                level = level.level
            self._levels = tuple(reversed(chain))
        return self._levels

    def rule(self, name: str) -> JSON:
        return self.raw.get(name)

    def program(self, name: str) -> Program | None:
        """The rule ``name`` compiled (on first use: a layout lives as long as its compiled form),
        None when the element has none."""
        try:
            return self._programs[name]
        except KeyError:
            rule = self.raw.get(name)
            program = None if rule is None else compile_rule(rule)
            self._programs[name] = program
            return program

    def pointer(self, rows: tuple[int, ...]) -> str:
        """``pointer_parts`` as a JSON Pointer, from pieces escaped once (it is built for every instance)."""
        if self._pointer is None:
            pieces: list[str] = []
            text = ""
            for level in self.levels:
                text += pointer([level.key])
                if level.type == "REPEATING_GROUP":
                    pieces.append(text)
                    text = ""
            self._pointer_pieces = tuple(pieces)
            self._pointer = text + pointer([self.key])
        if not rows:
            return self._pointer
        return "".join(f"{piece}/{row}" for piece, row in zip(self._pointer_pieces, rows, strict=True)) + self._pointer

    def pointer_parts(self, rows: tuple[int, ...]) -> list[str | int]:
        """Where this element's instance for ``rows`` (one index per enclosing repeating group) sits."""
        parts: list[str | int] = []
        remaining = iter(rows)
        for level in self.levels:
            parts.append(level.key)
            if level.type == "REPEATING_GROUP":
                parts.append(next(remaining))
        parts.append(self.key)
        return parts


@dataclass
class Layout:
    elements: list[Element]  # document order
    top: list[Element]
    members: dict[Element | None, dict[str, Element]]  # every key of each level, sections included
    by_path: dict[str, Element]

    def answer_children(self, level: Element | None) -> list[Element]:
        return [element for element in self.members.get(level, {}).values() if element.is_value]


def _absent_as(value: JSON, default: JSON) -> JSON:
    """JSON null counts as absent (the browser reads both with ``??``)."""
    return default if value is None else value


def field_type(raw: JSON) -> str:
    value = raw.get("type") if isinstance(raw, dict) else None
    return value.removeprefix("FIELD_TYPE_") if isinstance(value, str) else ""


def parse_layout(definition: dict[str, Any], problems: list[Problem]) -> Layout:
    layout = Layout(elements=[], top=[], members={None: {}}, by_path={})
    fields = _absent_as(definition.get("fields"), [])
    if not isinstance(fields, list):
        problems.append(Problem("/fields", Reason.DEFINITION_INVALID, "fields must be an array"))
        return layout
    layout.top = _parse(layout, fields, None, None, (), ("fields",), problems)
    pages = [element for element in layout.top if element.type == "PAGE"]
    if pages and len(pages) != len(layout.top):
        for element in layout.top:
            if element.type != "PAGE":
                problems.append(
                    Problem(pointer(element.definition_parts), Reason.LAYOUT_TYPE_INVALID, "mix of pages and fields")
                )
    return layout


def _parse(
    layout: Layout,
    items: list[Any],
    parent: Element | None,
    level: Element | None,
    repeats: tuple[Element, ...],
    parts: tuple[str | int, ...],
    problems: list[Problem],
) -> list[Element]:
    parsed: list[tuple[int, int, Element]] = []
    for index, raw in enumerate(items):
        here = (*parts, index)
        if not isinstance(raw, dict):
            problems.append(Problem(pointer(here), Reason.DEFINITION_INVALID, "a field must be an object"))
            continue
        key, kind = raw.get("key"), field_type(raw)
        if not isinstance(key, str) or not KEY.fullmatch(key) or key in RESERVED_KEYS:
            problems.append(Problem(pointer((*here, "key")), Reason.LAYOUT_KEY_INVALID, "not a valid field key"))
            continue
        if kind not in VALUE_TYPES and kind not in LAYOUT_ONLY_TYPES:
            problems.append(Problem(pointer((*here, "type")), Reason.LAYOUT_TYPE_INVALID, "unknown field type"))
            continue
        if kind == "PAGE" and parent is not None:
            problems.append(Problem(pointer((*here, "type")), Reason.LAYOUT_TYPE_INVALID, "pages are top-level only"))
            continue
        members = layout.members.setdefault(level, {})
        if key in members:
            problems.append(Problem(pointer((*here, "key")), Reason.LAYOUT_DUPLICATE_KEY, f"{key!r} is used twice"))
            continue
        path = f"{level.path}.{key}" if level is not None else key
        element = Element(key, kind, path, raw, here, len(layout.elements), parent, level, repeats)
        members[key] = element
        layout.elements.append(element)
        layout.by_path[path] = element
        order = raw.get("order", 0)
        parsed.append((order if is_number(order) else 0, index, element))
        children = _absent_as(raw.get("fields"), [])
        if not isinstance(children, list):
            problems.append(Problem(pointer((*here, "fields")), Reason.DEFINITION_INVALID, "fields must be an array"))
        elif children and kind not in CONTAINER_TYPES:
            problems.append(
                Problem(pointer((*here, "fields")), Reason.LAYOUT_CHILDREN_INVALID, f"a {kind} field holds no fields")
            )
        elif children:
            child_level = element if kind in LEVEL_TYPES else level
            child_repeats = (*repeats, element) if kind == "REPEATING_GROUP" else repeats
            if kind in LEVEL_TYPES:
                layout.members.setdefault(element, {})
            element.children = _parse(
                layout, children, element, child_level, child_repeats, (*here, "fields"), problems
            )
    return [element for _order, _index, element in sorted(parsed, key=lambda entry: (entry[0], entry[1]))]


# -- the layout against the schema -------------------------------------------------------------------


def agree_with_schema(layout: Layout, schema: dict[str, Any], problems: list[Problem]) -> None:
    """Every answer-bearing field has its property, of the type's schema, and every property a field."""
    root = resolve(schema, [])
    if root is None or not _is_object_schema(root[1]):
        problems.append(Problem("/schema", Reason.SCHEMA_NOT_OBJECT, "the answers' schema must describe an object"))
        return
    _agree_level(layout, schema, None, root[0], root[1], problems)


def _is_object_schema(node: JSON) -> bool:
    return isinstance(node, dict) and node.get("type") == "object" and isinstance(node.get("properties"), dict)


def _agree_level(
    layout: Layout,
    schema: dict[str, Any],
    level: Element | None,
    level_parts: list[str | int],
    level_schema: dict[str, Any],
    problems: list[Problem],
) -> None:
    properties: dict[str, Any] = level_schema["properties"]
    required = level_schema.get("required", [])
    children = layout.answer_children(level)
    keys = {child.key for child in children}
    for name in properties:
        if name not in keys:
            where = pointer(["schema", *level_parts, "properties", name])
            problems.append(Problem(where, Reason.LAYOUT_PROPERTY_WITHOUT_FIELD, f"property {name!r} has no field"))
    for child in children:
        here = pointer(child.definition_parts)
        if child.key not in properties:
            problems.append(
                Problem(here, Reason.LAYOUT_FIELD_NOT_IN_SCHEMA, f"no property {child.key!r} in the schema")
            )
            continue
        resolved = resolve(schema, [*level_parts, "properties", child.key])
        if resolved is None:
            continue  # the reference itself is reported by the schema checks
        child.schema_parts, child.schema = resolved
        child.required_by_schema = isinstance(required, list) and child.key in required
        _agree_field(layout, schema, child, problems)


def _agree_field(layout: Layout, schema: dict[str, Any], element: Element, problems: list[Problem]) -> None:
    here = pointer(element.definition_parts)
    node, kind = element.schema, element.type
    if kind == "GROUP":
        if not _is_object_schema(node):
            problems.append(Problem(here, Reason.LAYOUT_GROUP_NOT_OBJECT, "a group's schema must be an object schema"))
            return
        element.level_parts = element.schema_parts
        _agree_level(layout, schema, element, element.schema_parts or [], node, problems)
        return
    if kind == "REPEATING_GROUP":
        items = resolve(schema, [*(element.schema_parts or []), "items"]) if isinstance(node, dict) else None
        if not (isinstance(node, dict) and node.get("type") == "array" and items and _is_object_schema(items[1])):
            problems.append(
                Problem(here, Reason.LAYOUT_REPEATING_GROUP_NOT_ARRAY_OF_OBJECTS, "needs an array of object schemas")
            )
            return
        _agree_items(element, node, problems)
        element.level_parts = items[0]
        _agree_level(layout, schema, element, items[0], items[1], problems)
        return
    if not _schema_fits(kind, node, schema, element):
        problems.append(Problem(pointer((*element.definition_parts, "type")), Reason.LAYOUT_SCHEMA_MISMATCH,
                                f"the property's schema does not fit a {kind} field"))  # fmt: skip
    _agree_options(element, schema, problems)


def _schema_fits(kind: str, node: JSON, schema: dict[str, Any], element: Element) -> bool:
    if not isinstance(node, dict):
        return False
    declared = node.get("type")
    if kind in FORMAT_OF_TYPE:
        return declared == "string" and node.get("format") == FORMAT_OF_TYPE[kind]
    if kind in ("SHORT_TEXT", "LONG_TEXT", "PHONE", "FILE"):
        return declared == "string"
    if kind == "NUMBER":
        return declared in ("number", "integer")
    if kind == "INTEGER":
        return declared == "integer"
    if kind == "CHECKBOX":
        return declared == "boolean"
    if kind in ("HIDDEN", "COMPUTED"):
        return declared in ("string", "number", "integer", "boolean")
    if kind == "SINGLE_CHOICE":
        return declared in (None, "string", "number", "integer") and _enum_values(node) is not None
    if kind == "MULTIPLE_CHOICE":
        items = resolve(schema, [*(element.schema_parts or []), "items"])
        return declared == "array" and items is not None and _enum_values(items[1]) is not None
    return False


def _enum_values(node: JSON) -> list[JSON] | None:
    values = node.get("enum") if isinstance(node, dict) else None
    if not isinstance(values, list) or not values:
        return None
    if not all(isinstance(value, str) or is_number(value) for value in values):
        return None
    return values


def choice_values(element: Element, schema: dict[str, Any]) -> list[JSON] | None:
    """The values a choice field's schema allows (its enum, or its items' enum)."""
    if element.type == "SINGLE_CHOICE":
        return _enum_values(element.schema)
    items = resolve(schema, [*(element.schema_parts or []), "items"])
    return _enum_values(items[1]) if items else None


def _agree_options(element: Element, schema: dict[str, Any], problems: list[Problem]) -> None:
    options = _absent_as(element.raw.get("options"), [])
    where = pointer((*element.definition_parts, "options"))
    if not isinstance(options, list):
        problems.append(Problem(where, Reason.DEFINITION_INVALID, "options must be an array"))
        return
    if element.type not in CHOICE_TYPES:
        if options:
            problems.append(Problem(where, Reason.LAYOUT_OPTIONS_MISMATCH, f"a {element.type} field has no options"))
        return
    allowed = choice_values(element, schema)
    if allowed is None:
        return  # reported as a schema mismatch
    values = [option.get("value") if isinstance(option, dict) else None for option in options]
    unique = all(not deep_equal(a, b) for i, a in enumerate(values) for b in values[i + 1 :])
    same = len(values) == len(allowed) and all(any(deep_equal(v, a) for a in allowed) for v in values)
    if not (unique and same):
        problems.append(Problem(where, Reason.LAYOUT_OPTIONS_MISMATCH, "the options must be exactly the schema's enum"))


def _agree_items(element: Element, node: dict[str, Any], problems: list[Problem]) -> None:
    for name in ("minItems", "maxItems"):
        if name in element.raw and not deep_equal(element.raw[name], node.get(name)):
            where = pointer((*element.definition_parts, name))
            problems.append(Problem(where, Reason.LAYOUT_ITEMS_MISMATCH, f"{name} differs from the schema's"))
