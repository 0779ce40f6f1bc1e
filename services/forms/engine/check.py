"""``check_definition``: every reason a definition cannot be used, each at its JSON Pointer.

Run when a definition is saved; the engine refuses to evaluate a definition with problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jsonschema import Draft202012Validator

from services.forms.engine.formats import FORMATS
from services.forms.engine.layout import LOCALIZED_FIELD_TEXTS, WIDGETS, Element, Layout, parse_layout
from services.forms.engine.layout import agree_with_schema as _agree
from services.forms.engine.model import Problem, Reason
from services.forms.engine.rules import Node, RuleAnalysis, evaluation_order, form_scope
from services.forms.engine.schema import DIALECT, KEYWORDS, pattern_compiles, reference_parts, resolve, subschemas
from services.forms.engine.values import JSON, js_value, pointer

_META: Final = Draft202012Validator(Draft202012Validator.META_SCHEMA)
_LOCALE: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_CHECK_ID: Final = re.compile(r"[a-z][a-z0-9_-]{0,62}")


@dataclass
class Checked:
    """A definition taken apart: what the engine needs to evaluate it, and its problems."""

    definition: dict[str, Any]
    schema: dict[str, Any]
    layout: Layout
    order: list[Node]
    default_locale: str
    problems: list[Problem]


def check_definition(definition: JSON) -> list[Problem]:
    """Every problem of ``definition`` (the canonical JSON of a FormDefinition), sorted by pointer."""
    return analyze_definition(definition).problems


def analyze_definition(definition: JSON) -> Checked:
    problems: list[Problem] = []
    definition = js_value(definition)  # numbers as the browser reads them (proto JSON prints 5 as 5.0)
    if not isinstance(definition, dict):
        definition = {}
        problems.append(Problem("", Reason.DEFINITION_INVALID, "a definition is a JSON object"))
    schema = definition.get("schema")
    if not isinstance(schema, dict):
        problems.append(Problem("/schema", Reason.DEFINITION_INVALID, "schema must be a JSON Schema object"))
        schema = {}
    default_locale = definition.get("defaultLocale") or "en"
    if not isinstance(default_locale, str) or not _LOCALE.fullmatch(default_locale):
        problems.append(Problem("/defaultLocale", Reason.DEFINITION_INVALID, "not a BCP 47 language tag"))
        default_locale = "en"
    schema_ok = _check_schema(schema, problems)
    layout = parse_layout(definition, problems)
    if schema_ok:
        _agree(layout, schema, problems)
    texts = _Texts(default_locale, problems)
    for name in ("title", "description"):
        texts.check(definition.get(name), (name,))
    analysis = RuleAnalysis(layout, problems)
    reads: dict[Element, set[Element]] = {}
    for element in layout.elements:
        _check_field(element, texts, problems)
        reads[element] = _field_rules(element, analysis)
    checks = definition.get("checks")
    _check_checks([] if checks is None else checks, layout, analysis, texts, problems)
    order = evaluation_order(layout, reads, problems)
    unique = sorted(set(problems), key=lambda p: (p.pointer, p.reason))
    return Checked(definition, schema, layout, order, default_locale, unique)


# -- the schema -----------------------------------------------------------------------------------


def _check_schema(schema: dict[str, Any], problems: list[Problem]) -> bool:
    """Problems of the answers' schema itself; False when it is not a 2020-12 schema at all (then the
    layout is not compared with it)."""
    before = len(problems)
    if "$schema" in schema and schema["$schema"] != DIALECT:
        problems.append(Problem("/schema/$schema", Reason.SCHEMA_INVALID, f"only {DIALECT} is supported"))
        return False  # the rest would be judged by the wrong rules
    for error in _META.iter_errors(schema):
        problems.append(Problem(pointer(["schema", *error.absolute_path]), Reason.SCHEMA_INVALID, error.message))
    if len(problems) > before:
        return False
    for parts, node in subschemas(schema, []):
        if not isinstance(node, dict):
            continue
        for keyword in node:
            if keyword not in KEYWORDS:
                problems.append(Problem(pointer(["schema", *parts, keyword]), Reason.SCHEMA_KEYWORD_UNSUPPORTED,
                                        f"keyword {keyword!r} is not supported in forms"))  # fmt: skip
        if "format" in node and node["format"] not in FORMATS:
            problems.append(Problem(pointer(["schema", *parts, "format"]), Reason.SCHEMA_FORMAT_UNSUPPORTED,
                                    f"format {node['format']!r} is not supported"))  # fmt: skip
        if isinstance(node.get("pattern"), str) and not pattern_compiles(node["pattern"]):
            problems.append(Problem(pointer(["schema", *parts, "pattern"]), Reason.SCHEMA_PATTERN_INVALID,
                                    "not a valid regular expression"))  # fmt: skip
        if isinstance(node.get("$ref"), str):
            target = reference_parts(node["$ref"])
            if target is None or resolve(schema, [*parts]) is None:
                problems.append(Problem(pointer(["schema", *parts, "$ref"]), Reason.SCHEMA_REFERENCE_INVALID,
                                        "references must resolve inside the document"))  # fmt: skip
    return True


# -- fields -----------------------------------------------------------------------------------------


class _Texts:
    """Localized texts: a map of BCP 47 tags to strings that carries the default locale."""

    def __init__(self, default_locale: str, problems: list[Problem]) -> None:
        self.default_locale = default_locale
        self.problems = problems

    def check(self, texts: JSON, parts: tuple[str | int, ...]) -> None:
        if texts is None:
            return
        if not isinstance(texts, Mapping) or not all(
            isinstance(tag, str) and _LOCALE.fullmatch(tag) and isinstance(text, str) for tag, text in texts.items()
        ):
            self.problems.append(Problem(pointer(parts), Reason.DEFINITION_INVALID, "texts map locales to strings"))
            return
        if texts and self.default_locale not in texts:
            self.problems.append(Problem(pointer(parts), Reason.TEXT_LOCALE_MISSING,
                                         f"no text in the default locale {self.default_locale!r}"))  # fmt: skip


def _check_field(element: Element, texts: _Texts, problems: list[Problem]) -> None:
    here = element.definition_parts
    for name in LOCALIZED_FIELD_TEXTS:
        texts.check(element.raw.get(name), (*here, name))
    for index, option in enumerate(
        element.raw.get("options", []) if isinstance(element.raw.get("options"), list) else []
    ):
        if isinstance(option, dict):
            texts.check(option.get("label"), (*here, "options", index, "label"))
    widget = element.raw.get("widget")
    if widget is not None and widget != "WIDGET_UNSPECIFIED":
        name = widget.removeprefix("WIDGET_") if isinstance(widget, str) else ""
        if name not in WIDGETS.get(element.type, frozenset()):
            problems.append(Problem(pointer((*here, "widget")), Reason.LAYOUT_WIDGET_INVALID,
                                    f"a {element.type} field does not take widget {widget!r}"))  # fmt: skip
    if element.type != "REPEATING_GROUP":
        for name in ("minItems", "maxItems"):
            if name in element.raw:
                problems.append(Problem(pointer((*here, name)), Reason.LAYOUT_ITEMS_MISMATCH,
                                        f"only repeating groups have {name}"))  # fmt: skip
    has_compute = element.raw.get("compute") is not None
    if element.type == "COMPUTED" and not has_compute:
        problems.append(Problem(pointer(here), Reason.LAYOUT_COMPUTE_INVALID, "a COMPUTED field needs compute"))
    if element.type != "COMPUTED" and has_compute:
        problems.append(Problem(pointer((*here, "compute")), Reason.LAYOUT_COMPUTE_INVALID,
                                "only COMPUTED fields compute"))  # fmt: skip
    if not element.is_value and element.raw.get("requiredWhen") is not None:
        problems.append(Problem(pointer((*here, "requiredWhen")), Reason.RULE_INVALID,
                                f"a {element.type} holds no answer to require"))  # fmt: skip


def _field_rules(element: Element, analysis: RuleAnalysis) -> set[Element]:
    """Checks a field's rules; returns what its visibility and computed value read."""
    scope = form_scope(element)
    reads: set[Element] = set()
    for name in ("visibleWhen", "compute"):
        if element.rule(name) is not None:
            reads |= analysis.analyze(element.rule(name), scope, (*element.definition_parts, name))
    if element.rule("requiredWhen") is not None:
        analysis.analyze(element.rule("requiredWhen"), scope, (*element.definition_parts, "requiredWhen"))
    return reads


def _check_checks(checks: JSON, layout: Layout, analysis: RuleAnalysis, texts: _Texts, problems: list[Problem]) -> None:
    if not isinstance(checks, list):
        problems.append(Problem("/checks", Reason.DEFINITION_INVALID, "checks must be an array"))
        return
    seen: set[str] = set()
    for index, check in enumerate(checks):
        here: tuple[str | int, ...] = ("checks", index)
        if not isinstance(check, dict):
            problems.append(Problem(pointer(here), Reason.DEFINITION_INVALID, "a check is an object"))
            continue
        check_id = check.get("id")
        if not isinstance(check_id, str) or not _CHECK_ID.fullmatch(check_id) or check_id in seen:
            problems.append(Problem(pointer((*here, "id")), Reason.CHECK_INVALID, "a check needs a unique id"))
        else:
            seen.add(check_id)
        target = check_target(check, layout)
        if target is False or target is True:
            problems.append(Problem(pointer((*here, "field")), Reason.CHECK_INVALID, "no such field"))
            continue
        if check.get("rule") is None:
            problems.append(Problem(pointer((*here, "rule")), Reason.CHECK_INVALID, "a check needs a rule"))
        else:
            analysis.analyze(
                check["rule"], form_scope(target if isinstance(target, Element) else None), (*here, "rule")
            )
        texts.check(check.get("message"), (*here, "message"))


def check_target(check: dict[str, Any], layout: Layout) -> Element | bool | None:
    """The field a check reports at: None for the form as a whole, False when there is no such field."""
    name = check.get("field")
    if name is None or name == "":
        return None
    element = layout.by_path.get(name) if isinstance(name, str) else None
    if element is None or not element.is_value:
        return False
    return element
