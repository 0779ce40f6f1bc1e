"""The answers' JSON Schema: the pinned keyword set, references, and the compiled validator.

Answers are validated with jsonschema-rs configured like the browser's Ajv2020: formats asserted from
the engine's own table (``formats.py``), unknown formats refused, patterns rewritten to mean what
they mean in the browser (``patterns.py``: ECMAScript with the ``u`` flag), and ``multipleOf``
decided exactly on the numbers' shortest decimal forms (``0.29`` is a multiple of ``0.01``; binary
floating point would say no on one side and yes on the other). ``required`` at the levels the layout
covers is left to the engine (hidden fields are not required), so the compiled schema is a copy
without it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

import jsonschema_rs

from services.forms.engine.formats import FORMATS
from services.forms.engine.patterns import ecma_pattern
from services.forms.engine.values import JSON, get_in, is_number, js_number, pointer

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

# The keywords a form's schema may use: every one of them is validated identically by both sides
# (the corpus proves it). Anything else is refused when the definition is checked.
KEYWORDS: Final = frozenset(
    {
        "$schema", "$defs", "$ref", "$comment", "title", "description", "default", "examples",
        "readOnly", "writeOnly", "deprecated", "type", "enum", "const", "multipleOf", "maximum",
        "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
        "maxItems", "minItems", "uniqueItems", "items", "contains", "minContains",
        "maxContains", "maxProperties", "minProperties", "required", "properties",
        "additionalProperties", "dependentRequired", "allOf", "anyOf", "oneOf", "not", "if", "then",
        "else", "format",
    }
)  # fmt: skip
_SINGLE_SUBSCHEMA: Final = ("additionalProperties", "items", "contains", "not", "if", "then", "else")
_SUBSCHEMA_LISTS: Final = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA_MAPS: Final = ("properties", "$defs")
_MAX_REFERENCE_HOPS: Final = 32


def subschemas(node: JSON, parts: list[str | int]) -> Iterator[tuple[list[str | int], JSON]]:
    """Every schema inside ``node`` (``node`` first), with its path."""
    yield parts, node
    if not isinstance(node, dict):
        return
    for keyword in _SINGLE_SUBSCHEMA:
        if keyword in node:
            yield from subschemas(node[keyword], [*parts, keyword])
    for keyword in _SUBSCHEMA_LISTS:
        if isinstance(node.get(keyword), list):
            for index, item in enumerate(node[keyword]):
                yield from subschemas(item, [*parts, keyword, index])
    for keyword in _SUBSCHEMA_MAPS:
        if isinstance(node.get(keyword), dict):
            for name, item in node[keyword].items():
                yield from subschemas(item, [*parts, keyword, name])


def reference_parts(reference: str) -> list[str | int] | None:
    """The path a local reference ("#", "#/$defs/a") names, or None if it leaves the document."""
    if reference == "#":
        return []
    if not reference.startswith("#/"):
        return None
    return [token.replace("~1", "/").replace("~0", "~") for token in reference[2:].split("/")]


def lookup(document: JSON, parts: Sequence[str | int]) -> tuple[bool, JSON]:
    """Like ``get_in``, but array positions may be given as strings (as references spell them)."""
    current = document
    for token in parts:
        part = int(token) if isinstance(current, list) and isinstance(token, str) and token.isdigit() else token
        found, current = get_in(current, [part])
        if not found:
            return False, None
    return True, current


def resolve(document: JSON, parts: list[str | int]) -> tuple[list[str | int], JSON] | None:
    """Follow ``$ref`` from the schema at ``parts`` to the schema that describes the value."""
    found, node = lookup(document, parts)
    hops = 0
    while found and isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target = reference_parts(node["$ref"])
        hops += 1
        if target is None or hops > _MAX_REFERENCE_HOPS:
            return None
        parts = target
        found, node = lookup(document, parts)
    return (parts, node) if found else None


def pattern_compiles(pattern: str) -> bool:
    """Whether both engines run ``pattern`` alike (the browser checks it with ``new RegExp(p, "u")``)."""
    translated = ecma_pattern(pattern)
    if translated is None:
        return False
    try:
        jsonschema_rs.Draft202012Validator({"pattern": translated})
    except (ValueError, jsonschema_rs.ValidationError):
        return False
    else:
        return True


# -- multipleOf, decided on decimals ---------------------------------------------------------------


def _decimal(number: int | float) -> tuple[int, int]:
    """(mantissa, exponent) of the shortest decimal form of the double ``number``."""
    normal = js_number(number)
    if isinstance(normal, int):
        return normal, 0  # a whole double is exactly this integer
    text = repr(normal)  # the shortest digits that round-trip, like JavaScript's String()
    digits, _, exponent = text.partition("e")
    whole, _, fraction = digits.partition(".")
    return int(whole + fraction), int(exponent or 0) - len(fraction)


def _is_multiple(value: tuple[int, int], divisor: tuple[int, int]) -> bool:
    (a, ea), (b, eb) = value, divisor
    common = min(ea, eb)
    scaled_a: int = a * 10 ** (ea - common)
    scaled_b: int = b * 10 ** (eb - common)
    return scaled_b != 0 and scaled_a % scaled_b == 0


class _MultipleOf:
    """jsonschema-rs keyword replacing the built-in ``multipleOf`` with ``is_multiple``."""

    def __init__(self, _parent: dict[str, Any], value: Any, _path: list[str | int]) -> None:
        self.divisor = _decimal(value) if is_number(value) else None

    def validate(self, instance: Any) -> None:
        if self.divisor is not None and is_number(instance) and not _is_multiple(_decimal(instance), self.divisor):
            raise ValueError(f"{instance} is not a multiple")


# -- the compiled validator ------------------------------------------------------------------------


def relaxed(schema: dict[str, Any], levels: Sequence[tuple[list[str | int], set[str]]]) -> dict[str, Any]:
    """A copy of ``schema`` whose object schemas at ``levels`` no longer require the layout's fields."""
    document = copy.deepcopy(schema)
    for parts, names in levels:
        found, node = lookup(document, parts)
        if found and isinstance(node, dict) and isinstance(node.get("required"), list):
            node["required"] = [name for name in node["required"] if name not in names]
    return document


def with_ecma_patterns(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (changed in place) with every ``pattern`` rewritten as ``ecma_pattern`` gives it."""
    for _, node in subschemas(schema, []):
        if isinstance(node, dict) and isinstance(node.get("pattern"), str):
            node["pattern"] = ecma_pattern(node["pattern"]) or node["pattern"]  # checked: never None here
    return schema


def compile_validator(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """The validator of ``schema``, which is changed in place (a copy: see ``relaxed``)."""
    return jsonschema_rs.Draft202012Validator(
        with_ecma_patterns(schema),
        formats=FORMATS,
        validate_formats=True,
        ignore_unknown_formats=False,
        keywords={"multipleOf": _MultipleOf},
    )


def schema_errors(validator: jsonschema_rs.Validator, answers: JSON) -> list[tuple[str, str]]:
    """(JSON Pointer, keyword) of every way ``answers`` fails.

    The keyword is the one at the end of the error's schema path (``minContains`` and ``maxContains``
    count as ``contains``, a ``false`` subschema as ``false``); a property refused by
    ``additionalProperties``, or missing for ``required``/``dependentRequired``, is named at its own path.
    """
    found: list[tuple[str, str]] = []
    for error in validator.iter_errors(answers):
        parts = list(error.instance_path)
        last = error.schema_path[-1] if error.schema_path else ""
        keyword = last if isinstance(last, str) and last in KEYWORDS else "false"
        if keyword in ("minContains", "maxContains"):
            keyword = "contains"
        kind = error.kind.as_dict()
        if keyword == "additionalProperties" and isinstance(error.instance, dict):
            names = kind.get("unexpected", list(error.instance))  # a false schema: every property is refused
            found.extend((pointer([*parts, name]), keyword) for name in names)
        elif isinstance(kind.get("property"), str):
            found.append((pointer([*parts, kind["property"]]), keyword))
        else:
            found.append((pointer(parts), keyword))
    return found


def dumps(value: JSON) -> str:
    return json.dumps(value, ensure_ascii=False)
