"""Benchmark of the forms engine on the server: a 30-field form with 8 rules and a repeating group.

Prints microseconds per call (median of several rounds) for: evaluating valid answers, evaluating
answers with violations, evaluating a precompiled form (no content hash), checking the definition,
and compiling it cold. Issue 11's target: evaluation well under a millisecond.

    make bench-forms-engine            (or: .venv/bin/python -m tests.bench.bench_forms_engine)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from services.forms.engine import check_definition, compile_definition, evaluate, evaluate_compiled
from services.forms.engine import compiled as compiled_module


def definition() -> dict[str, Any]:
    """30 fields (24 top-level incl. 2 computed, a repeating group of 5 incl. 1 computed), 8 rules."""
    props: dict[str, Any] = {}
    fields: list[dict[str, Any]] = []
    for i in range(8):
        props[f"text{i}"] = {"type": "string", "minLength": 1, "maxLength": 80}
        fields.append(
            {"key": f"text{i}", "type": "FIELD_TYPE_SHORT_TEXT", "label": {"en": f"Text {i}", "id": f"Teks {i}"}}
        )
    for i in range(6):
        props[f"num{i}"] = {"type": "number", "minimum": 0, "maximum": 1_000_000, "multipleOf": 0.01}
        fields.append({"key": f"num{i}", "type": "FIELD_TYPE_NUMBER"})
    props.update(
        {
            "email": {"type": "string", "format": "email"},
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date"},
            "country": {"type": "string", "enum": ["ID", "SG", "MY", "TH"]},
            "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
            "employed": {"type": "boolean"},
            "employer": {"type": "string"},
            "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True},
            "subtotal": {"type": "number"},
            "tax": {"type": "number"},
            "lines": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "pattern": "^[A-Z0-9-]+$"},
                        "qty": {"type": "integer", "minimum": 1},
                        "price": {"type": "number", "minimum": 0},
                        "note": {"type": "string"},
                        "total": {"type": "number"},
                    },
                    "required": ["sku", "qty", "price"],
                },
            },
        }
    )
    fields += [
        {"key": "email", "type": "FIELD_TYPE_EMAIL"},
        {"key": "start", "type": "FIELD_TYPE_DATE"},
        {"key": "end", "type": "FIELD_TYPE_DATE", "requiredWhen": {"var": "start"}},  # rule 1
        {
            "key": "country",
            "type": "FIELD_TYPE_SINGLE_CHOICE",
            "options": [{"value": c} for c in ["ID", "SG", "MY", "TH"]],
        },
        {"key": "nik", "type": "FIELD_TYPE_SHORT_TEXT", "visibleWhen": {"==": [{"var": "country"}, "ID"]}},  # rule 2
        {"key": "employed", "type": "FIELD_TYPE_CHECKBOX"},
        {"key": "employer", "type": "FIELD_TYPE_SHORT_TEXT", "visibleWhen": {"var": "employed"}},  # rule 3
        {"key": "tags", "type": "FIELD_TYPE_MULTIPLE_CHOICE", "options": [{"value": t} for t in "abc"]},
        {
            "key": "lines",
            "type": "FIELD_TYPE_REPEATING_GROUP",
            "fields": [
                {"key": "sku", "type": "FIELD_TYPE_SHORT_TEXT"},
                {"key": "qty", "type": "FIELD_TYPE_INTEGER"},
                {"key": "price", "type": "FIELD_TYPE_NUMBER"},
                {
                    "key": "note",
                    "type": "FIELD_TYPE_SHORT_TEXT",
                    "visibleWhen": {">": [{"var": "lines.qty"}, 10]},
                },  # rule 4
                {
                    "key": "total",
                    "type": "FIELD_TYPE_COMPUTED",
                    "compute": {"*": [{"var": "lines.qty"}, {"var": "lines.price"}]},  # rule 5
                },
            ],
        },
        {
            "key": "subtotal",
            "type": "FIELD_TYPE_COMPUTED",
            "compute": {
                "reduce": [{"var": "lines"}, {"+": [{"var": "accumulator"}, {"var": ["current.total", 0]}]}, 0]
            },
        },  # rule 6
        {"key": "tax", "type": "FIELD_TYPE_COMPUTED", "compute": {"*": [{"var": "subtotal"}, 0.11]}},  # rule 7
    ]
    schema = {"type": "object", "properties": props, "required": ["text0", "email", "country", "lines"]}
    checks = [{"id": "end-after-start", "field": "end", "rule": {">=": [{"var": "end"}, {"var": "start"}]}}]  # rule 8
    return {"schema": schema, "fields": fields, "checks": checks}


def valid_answers(lines: int) -> dict[str, Any]:
    answers: dict[str, Any] = {f"text{i}": f"value {i}" for i in range(8)}
    answers.update({f"num{i}": 10.5 * i for i in range(6)})
    answers.update({"email": "ada@example.com", "start": "2026-01-01", "end": "2026-01-31", "country": "ID"})
    answers.update({"nik": "3201234567890123", "employed": True, "employer": "ACME", "tags": ["a", "c"]})
    answers["lines"] = [{"sku": f"SKU-{i}", "qty": i + 1, "price": 2.5} for i in range(lines)]
    return answers


def invalid_answers(lines: int) -> dict[str, Any]:
    answers = valid_answers(lines)
    answers.update({"text0": "", "num1": -1, "email": "nope", "end": "2025-12-31", "nik": "12", "tags": ["a", "a"]})
    answers["lines"][0]["qty"] = 0
    answers["subtotal"] = 1  # forged
    return answers


def per_call_us(call: Callable[[], object], rounds: int, calls: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call, medians over rounds. CPU time is the figure to read on a shared
    machine: wall time also counts the time other processes held the core."""
    cpu, wall = [], []
    for _ in range(rounds):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            call()
        cpu.append((time.process_time() - started_cpu) / calls * 1e6)
        wall.append((time.perf_counter() - started_wall) / calls * 1e6)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=3, help="items in the repeating group")
    args = parser.parse_args()

    form = definition()
    assert check_definition(form) == [], check_definition(form)
    compiled = compile_definition(form)
    good, bad = valid_answers(args.lines), invalid_answers(args.lines)
    assert evaluate(form, good).valid
    violations = len(evaluate(form, bad).violations)
    fields = sum(1 for element in compiled.layout.elements if element.is_value)

    def cold() -> None:
        compiled_module._cache.clear()
        compile_definition(form)

    print(f"forms engine: {fields} fields, 8 rules, repeating group of {args.lines} items; "
          f"median of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"  {'':42s} {'CPU µs':>9s} {'wall µs':>9s}")
    rows = [
        ("evaluate, valid answers", per_call_us(lambda: evaluate(form, good), args.rounds, args.calls)),
        (f"evaluate, {violations} violations", per_call_us(lambda: evaluate(form, bad), args.rounds, args.calls)),
        (
            "evaluate_compiled, valid answers",
            per_call_us(lambda: evaluate_compiled(compiled, good), args.rounds, args.calls),
        ),
        ("check_definition", per_call_us(lambda: check_definition(form), args.rounds, max(1, args.calls // 20))),
        ("compile (cold: check, order, validator)", per_call_us(cold, args.rounds, max(1, args.calls // 20))),
    ]
    for name, (cpu, wall) in rows:
        print(f"  {name:42s} {cpu:9.1f} {wall:9.1f}")


if __name__ == "__main__":
    main()
