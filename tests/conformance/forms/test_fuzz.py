"""Differential fuzzing: random definitions and random answers, evaluated by both engines.

Where test_random.py mutates the corpus's definitions, this builds definitions of its own: random
schema constraints (bounds, multipleOf, lengths, unicode patterns, formats, enums), random
visibility, require-when, computed values and cross-field checks, repeating groups with per-item
rules, and answers drawn from the edges (1e308, -0, 0.1 + 0.2, integers above 2^53, numeric
strings, surrogate pairs and combining marks, impossible dates, leap seconds, empty vs missing vs
null). Every outcome is compared in full (validity, violations with paths and reasons, required
set, visibility, computed values, stored answers, or the definition's problems).

Seeded, so a failure names a reproducible definition and answer set. ``FORMS_FUZZ_DEFINITIONS``
(e.g. 5000) and ``FORMS_FUZZ_SEED`` run a longer or different exploration.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from services.forms.engine import DefinitionError, evaluate
from tests.conformance.forms.node import run_node
from tests.conformance.forms.test_node import divergence

SEED = int(os.environ.get("FORMS_FUZZ_SEED", "20261207"))
DEFINITIONS = int(os.environ.get("FORMS_FUZZ_DEFINITIONS", "250"))
ANSWERS_PER_DEFINITION = 8
BATCH = 500  # definitions per Node run, so a long run never holds one huge answer

NUMBERS: list[Any] = [
    0, 1, -1, 2, 3, 0.5, -0.0, 0.1, 0.2, 0.1 + 0.2, 0.3, 0.29, 1e308, -1e308, 1e-7, 5e-324, 1e21, 1e-324,
    2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, 12345678901234567890, 100, 7, 1.0,
]  # fmt: skip
STRINGS: list[Any] = [
    "", " ", "0", "1", "1e3", "-0", "0x10", " 1", "a", "A", "abc", "é", "e\u0301", "😀", "👍🏽", "\U0001f600\u0301x",
    "ab", "aé", "\r", "a\u2028", "é\u2029x", "\u0085", "\ufeff", "\u00a0", "ax", "éx", "x", "aa",
    "٣", "१२", "ǅ", "ß", "ﬀ", "İ", "a\nb", "\u0000", "x" * 70, "null", "true",
    "2024-02-29", "2023-02-29", "2026-02-30", "2026-13-01", "2026-1-01", "1900-02-29", "2000-02-29",
    "23:59:60Z", "23:59:60+01:00", "12:00:00", "12:00:00Z", "12:00:00+05:30", "12:00:00.5Z", "24:00:00Z",
    "2016-12-31T23:59:60Z", "2026-02-30T00:00:00Z", "2024-02-29T12:00:00+14:00", "2024-02-29t12:00:00z",
    "2024-02-29T12:00:00-00:00", "2024-02-29 12:00:00Z",
    "a@b", "a@b.co", "ada@example.com", "ä@example.com", "https://x.test", "https://x.test/ä", "x:y",
    "//x", "/p?q#f", "http://[::1]/", "P1W", "PT", "P1Y2M", "P1DT", "PT1.5S", "1.2.3.4", "01.2.3.4", "256.1.1.1",
    "xn--bcher-kva.example", "ä.example", "a-.b", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "00:59:60+01:00",
    "12:00:60Z", "12:60:00Z", "12:00:00+24:00", "2024-02-29T12:00:00.123456789Z", "2024-02-29T24:00:00Z",
]  # fmt: skip
SCALARS: list[Any] = [*NUMBERS, *STRINGS, None, True, False]
COMPOUND: list[Any] = [[], {}, [0], [""], ["a", "a"], ["a", "b"], [1, "1"], {"a": 1}, [[]], [None]]

PATTERNS = [
    "^\\p{L}+$", "^\\p{Lu}", "^\\d+$", "^\\w+$", "^.{2}$", "^.$", "^[a-z]*$", "[^a]", "^\\S+$", "é$", "^\\s*$",
    "^(a|b)+$", "\\bx", "^[\\u0041-\\u005A]+$", "^\\P{L}*$", "^[😀-😂]$", "^\\p{Nd}+$", "a{2}", "^$",
]  # fmt: skip
ATOMS = [
    "a", "x", "é", "😀", ".", "\\b", "\\B", "\\d", "\\w", "\\W", "\\s", "\\S", "\\p{L}", "\\p{Lu}", "\\p{Nd}",
    "\\P{L}", "[^a]", "[a-z]", "[\\w-]", "(?:a|é)", "[]", "[^]", "[[]", "\\0", "\\u{1F600}", "(?=a)", "(?!x)", "(?<=a)",
]  # fmt: skip
QUANTIFIERS = ["", "", "", "*", "+", "?", "{2}", "{1,}", "*?"]
FORMAT_FIELDS = {"date": "FIELD_TYPE_DATE", "time": "FIELD_TYPE_TIME", "date-time": "FIELD_TYPE_DATE_TIME",
                 "email": "FIELD_TYPE_EMAIL", "uri": "FIELD_TYPE_URL"}  # fmt: skip
OTHER_FORMATS = ["duration", "hostname", "ipv4", "uri-reference", "uuid"]
CHOICES: list[list[Any]] = [["a", "b", "c"], ["0", "1"], ["", "x"], [0, 1, 2], [0.1, 0.3], ["é", "e\u0301"], [1, "1"]]

BINARY = ["==", "!=", "===", "!==", "<", "<=", ">", ">=", "/", "%", "-", "in"]
VARIADIC = ["+", "*", "min", "max", "cat", "merge", "and", "or", "if"]


class Generator:
    """One random definition: its fields, then rules that read them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names: list[str] = []  # what a top-level rule may read
        self.item_names: list[str] = []  # what a rule inside the repeating group may read too
        self.counter = 0
        self.group: str | None = None  # the repeating group, once there is one
        self.group_fields: list[str] = []  # its fields, as an array operator's inner rule names them

    # -- schema and fields ----------------------------------------------------------------------------

    def key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def number_schema(self, integer: bool) -> dict[str, Any]:
        rng = self.rng
        schema: dict[str, Any] = {"type": "integer" if integer else "number"}
        for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if rng.random() < 0.2:
                schema[keyword] = rng.choice([0, 1, -1, 0.3, 100, 2**53, 1e308, -0.5])
        self.combine(schema, lambda: {"minimum": rng.choice([0, 1, 0.3])}, lambda: {"multipleOf": 0.1})
        if rng.random() < 0.3:
            schema["multipleOf"] = rng.choice([0.01, 0.1, 3, 1e-7, 0.3, 2, 1e-300] if not integer else [2, 3, 7])
        return schema

    def string_schema(self) -> dict[str, Any]:
        rng = self.rng
        schema: dict[str, Any] = {"type": "string"}
        if rng.random() < 0.3:
            schema["maxLength"] = rng.choice([0, 1, 2, 3, 64])
        if rng.random() < 0.3:
            schema["minLength"] = rng.choice([1, 2, 3])
        if rng.random() < 0.4:
            schema["pattern"] = rng.choice(PATTERNS) if rng.random() < 0.5 else self.pattern()
        if rng.random() < 0.15:
            schema["format"] = rng.choice(OTHER_FORMATS)
        self.combine(schema, lambda: {"pattern": rng.choice(PATTERNS)}, lambda: {"maxLength": rng.choice([1, 2])})
        return schema

    def pattern(self) -> str:
        """A pattern of a few random atoms, each perhaps repeated, perhaps anchored."""
        rng = self.rng
        atoms = [rng.choice(ATOMS) for _ in range(rng.randrange(1, 4))]
        body = "".join(a + (rng.choice(QUANTIFIERS) if a[:3] not in ("(?=", "(?!", "(?<") else "") for a in atoms)
        return ("^" if rng.random() < 0.5 else "") + body + ("$" if rng.random() < 0.5 else "")

    def combine(self, schema: dict[str, Any], one: Any, other: Any) -> None:
        """Sometimes an applicator over two constraints (errors from inside them are folded alike)."""
        rng, roll = self.rng, self.rng.random()
        if roll < 0.05:
            schema["anyOf"] = [one(), other()]
        elif roll < 0.1:
            schema["oneOf"] = [one(), other()]
        elif roll < 0.13:
            schema["not"] = one()
        elif roll < 0.16:
            schema["allOf"] = [one(), other()]
        elif roll < 0.2:
            schema.update({"if": one(), "then": other()} if rng.random() < 0.5 else {"if": one(), "else": other()})
        elif roll < 0.22:
            schema["const"] = rng.choice(SCALARS)

    def value_field(self, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A field and its property's schema."""
        rng, key = self.rng, self.key(prefix)
        roll = rng.random()
        if roll < 0.2:
            return {"key": key, "type": "FIELD_TYPE_NUMBER"}, self.number_schema(rng.random() < 0.3)
        if roll < 0.3:
            return {"key": key, "type": "FIELD_TYPE_INTEGER"}, self.number_schema(True)
        if roll < 0.5:
            return {"key": key, "type": "FIELD_TYPE_SHORT_TEXT"}, self.string_schema()
        if roll < 0.65:
            fmt = rng.choice(sorted(FORMAT_FIELDS))
            return {"key": key, "type": FORMAT_FIELDS[fmt]}, {"type": "string", "format": fmt}
        if roll < 0.75:
            return {"key": key, "type": "FIELD_TYPE_CHECKBOX"}, {"type": "boolean"}
        values = rng.choice(CHOICES)
        options = [{"value": value} for value in values]
        if roll < 0.88:
            return {"key": key, "type": "FIELD_TYPE_SINGLE_CHOICE", "options": options}, {"enum": values}
        items: dict[str, Any] = {"enum": values}
        schema: dict[str, Any] = {"type": "array", "items": items}
        if rng.random() < 0.5:
            schema["uniqueItems"] = True
        if rng.random() < 0.3:
            schema["maxItems"] = rng.choice([0, 1, 2])
        return {"key": key, "type": "FIELD_TYPE_MULTIPLE_CHOICE", "options": options}, schema

    def computed_field(self, prefix: str, scope: str) -> tuple[dict[str, Any], dict[str, Any]]:
        key = self.key(prefix)
        kind = self.rng.choice(["number", "string", "boolean", "integer"])
        return {"key": key, "type": "FIELD_TYPE_COMPUTED", "compute": self.rule(scope)}, {"type": kind}

    def definition(self) -> dict[str, Any]:
        """Rules read only what comes before them, so most definitions have no cycle to refuse."""
        rng = self.rng
        properties: dict[str, Any] = {}
        fields: list[dict[str, Any]] = []
        required: list[str] = []
        for _ in range(rng.randrange(2, 6)):
            field, schema = self.value_field("f")
            self.add_conditions(field, "form")
            fields.append(field)
            properties[field["key"]] = schema
            self.names.append(field["key"])
            if rng.random() < 0.2:
                required.append(field["key"])
        if rng.random() < 0.6:
            fields.append(self.repeating_group(properties))
        for _ in range(rng.randrange(0, 3)):
            field, schema = self.computed_field("k", "form")
            self.add_conditions(field, "form")
            fields.append(field)
            properties[field["key"]] = schema
            self.names.append(field["key"])
        schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        definition: dict[str, Any] = {"schema": schema, "fields": fields}
        checks = [self.check(rng.choice([None, *[f["key"] for f in fields]])) for _ in range(rng.randrange(0, 3))]
        if checks:
            definition["checks"] = checks
        return definition

    def repeating_group(self, properties: dict[str, Any]) -> dict[str, Any]:
        rng, key = self.rng, self.key("r")
        group: dict[str, Any] = {"key": key, "type": "FIELD_TYPE_REPEATING_GROUP"}
        self.add_conditions(group, "form")
        inner_fields, inner_props, inner_required = [], {}, []
        for _ in range(rng.randrange(1, 4)):
            field, schema = self.value_field("q")
            self.add_conditions(field, "item")
            inner_fields.append(field)
            inner_props[field["key"]] = schema
            self.item_names.append(f"{key}.{field['key']}")
            if rng.random() < 0.3:
                inner_required.append(field["key"])
        if rng.random() < 0.7:
            field, schema = self.computed_field("c", "item")
            self.add_conditions(field, "item")
            inner_fields.append(field)
            inner_props[field["key"]] = schema
            self.item_names.append(f"{key}.{field['key']}")
        self.group, self.group_fields = key, [f["key"] for f in inner_fields]
        item_schema: dict[str, Any] = {"type": "object", "properties": inner_props}
        if inner_required:
            item_schema["required"] = inner_required
        group_schema: dict[str, Any] = {"type": "array", "items": item_schema}
        group["fields"] = inner_fields
        if rng.random() < 0.3:
            group_schema["maxItems"] = group["maxItems"] = rng.choice([1, 2])
        properties[key] = group_schema
        return group

    def add_conditions(self, field: dict[str, Any], scope: str) -> None:
        if self.rng.random() < 0.3:
            field["visibleWhen"] = self.rule(scope)
        if field["type"] != "FIELD_TYPE_COMPUTED" and self.rng.random() < 0.2:
            field["requiredWhen"] = self.rule(scope)

    def check(self, field: str | None) -> dict[str, Any]:
        check: dict[str, Any] = {"id": self.key("check-"), "rule": self.rule("form"), "message": {"en": "No."}}
        if field is not None:
            check["field"] = field
        return check

    # -- rules ----------------------------------------------------------------------------------------

    def var(self, scope: str) -> Any:
        rng = self.rng
        if scope == "element":
            names = ["", *self.group_fields]
        elif scope == "reduce":
            names = ["accumulator", "current", *[f"current.{name}" for name in self.group_fields]]
        else:
            names = self.names + (self.item_names if scope == "item" else [])
        if not names:
            return rng.choice(SCALARS)
        name = rng.choice(names)
        return {"var": [name, rng.choice(SCALARS)]} if rng.random() < 0.2 else {"var": name}

    def literal(self) -> Any:
        roll = self.rng.random()
        if roll < 0.9:
            return self.rng.choice(SCALARS)
        return self.rng.choice([value for value in COMPOUND if isinstance(value, list)])

    def rule(self, scope: str, depth: int = 0) -> Any:
        rng = self.rng
        if depth > 3 or rng.random() < 0.3:
            return self.var(scope) if rng.random() < 0.6 else self.literal()
        roll = rng.random()

        def args(count: int) -> list[Any]:
            return [self.rule(scope, depth + 1) for _ in range(count)]

        if roll < 0.35:
            op = rng.choice(BINARY)
            return {op: args(3 if op in ("<", "<=") and rng.random() < 0.3 else 2)}
        if roll < 0.6:
            return {rng.choice(VARIADIC): args(rng.randrange(1, 4))}
        if roll < 0.7:
            return {rng.choice(["!", "!!", "-"]): args(1)}
        if roll < 0.78:
            return {"substr": args(rng.choice([2, 3]))}
        if roll < 0.86:
            names = self.names + (self.item_names if scope == "item" else [])
            if not names:
                return self.literal()
            chosen = rng.sample(names, min(len(names), rng.randrange(1, 4)))
            if rng.random() < 0.5:
                return {"missing": chosen}
            return {"missing_some": [rng.choice([0, 1, 2]), chosen]}
        if scope in ("form", "item") and self.group and roll < 0.97:
            items = {"var": self.group}
            if roll < 0.93:
                op = rng.choice(["map", "filter", "all", "some", "none"])
                return {op: [items, self.rule("element", depth + 1)]}
            return {"reduce": [items, self.rule("reduce", depth + 1), rng.choice(SCALARS)]}
        return {"if": args(rng.choice([3, 5]))}


def random_answer(rng: random.Random, field: dict[str, Any]) -> Any:
    """Mostly a value of the field's kind from the edges, sometimes anything at all."""
    if rng.random() < 0.15:
        return rng.choice([*SCALARS, *COMPOUND])
    kind = field["type"]
    if kind == "FIELD_TYPE_REPEATING_GROUP":
        return [random_answers(rng, field["fields"]) for _ in range(rng.randrange(4))]
    if kind in ("FIELD_TYPE_NUMBER", "FIELD_TYPE_INTEGER"):
        return rng.choice(NUMBERS)
    if kind == "FIELD_TYPE_CHECKBOX":
        return rng.choice([True, False])
    values = [option["value"] for option in field.get("options", [])]
    if kind == "FIELD_TYPE_SINGLE_CHOICE":
        return rng.choice(values)
    if kind == "FIELD_TYPE_MULTIPLE_CHOICE":
        return [rng.choice(values) for _ in range(rng.randrange(4))]
    if kind == "FIELD_TYPE_COMPUTED":
        return rng.choice(SCALARS)
    return rng.choice(STRINGS)


def random_answers(rng: random.Random, fields: list[dict[str, Any]]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for field in fields:
        roll = rng.random()
        if roll < 0.2:
            continue  # missing
        if roll < 0.25:
            answers[field["key"]] = rng.choice([None, "", []])
        elif field["type"] != "FIELD_TYPE_COMPUTED" or roll < 0.35:
            answers[field["key"]] = random_answer(rng, field)
    if rng.random() < 0.05:
        answers["extra"] = rng.choice(SCALARS)
    return answers


def python_outcome(definition: dict[str, Any], answers: Any) -> dict[str, Any]:
    try:
        return evaluate(definition, answers, "en").as_json()
    except DefinitionError as error:
        return {"problems": [problem.as_json() for problem in error.problems]}


def fuzz_work(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    work = []
    for _ in range(count):
        definition = Generator(rng).definition()
        for _ in range(ANSWERS_PER_DEFINITION):
            work.append({"definition": definition, "answers": random_answers(rng, definition["fields"])})
    return work


def differences(work: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of ``work`` on which the engines disagree, with how."""
    differ = []
    for start in range(0, len(work), BATCH * ANSWERS_PER_DEFINITION):
        chunk = work[start : start + BATCH * ANSWERS_PER_DEFINITION]
        node = run_node({"evaluate": chunk})["evaluate"]
        for item, theirs in zip(chunk, node, strict=True):
            ours = python_outcome(item["definition"], item["answers"])
            if found := divergence(ours, theirs):
                differ.append({**item, "differences": found})
    return differ


def test_random_definitions_agree() -> None:
    differ = differences(fuzz_work(SEED, DEFINITIONS))
    assert differ == [], f"{len(differ)} divergences; first: " + json.dumps(differ[:2], ensure_ascii=False)[:6000]
