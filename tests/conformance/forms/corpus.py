"""The forms conformance corpus: loading its files and comparing an engine's answers with them.

Three kinds of file, each a list of cases:

* ``cases/*.json``: one definition and answers to evaluate. Each case names the answers ``given``
  and expects ``violations`` (exactly, as [JSON Pointer, keyword, rule id]; messages are never
  compared), and optionally ``visible`` and ``computed`` (the listed instances), ``required`` and
  ``answers`` (the stored answers, exactly).
* ``definitions/*.json``: definitions and their ``problems`` ([JSON Pointer, reason], exactly).
* ``rules/*.json``: a rule, its data and its ``result``.

Both engines answer every case: the Python engine in-process, the browser module under Node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.forms.engine.values import canonical_json

ROOT = Path(__file__).parent


@dataclass(frozen=True)
class EvaluateCase:
    id: str
    definition: dict[str, Any]
    given: Any
    locale: str
    expected: dict[str, Any]


@dataclass(frozen=True)
class DefinitionCase:
    id: str
    definition: Any
    problems: list[list[str]]


@dataclass(frozen=True)
class RuleCase:
    id: str
    rule: Any
    data: Any
    result: Any


def _files(kind: str) -> list[Path]:
    return sorted((ROOT / kind).glob("*.json"))


def evaluate_cases() -> list[EvaluateCase]:
    cases = []
    for path in _files("cases"):
        document = json.loads(path.read_text())
        for case in document["cases"]:
            definition = case.get("definition", document["definition"])
            cases.append(
                EvaluateCase(f"{path.stem}: {case['name']}", definition, case["given"], case.get("locale", "en"), case)
            )
    return cases


def definition_cases() -> list[DefinitionCase]:
    cases = []
    for path in _files("definitions"):
        for case in json.loads(path.read_text())["cases"]:
            cases.append(DefinitionCase(f"{path.stem}: {case['name']}", case["definition"], case["problems"]))
    return cases


def rule_cases() -> list[RuleCase]:
    cases = []
    for path in _files("rules"):
        for case in json.loads(path.read_text())["cases"]:
            name = case.get("name") or json.dumps(case["rule"], ensure_ascii=False)
            cases.append(RuleCase(f"{path.stem}: {name}", case["rule"], case.get("data"), case["result"]))
    return cases


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values (1 and 1.0 alike, as a browser holds them)."""
    return canonical_json(a) == canonical_json(b)


def violation_set(evaluation: dict[str, Any]) -> list[list[str]]:
    return sorted([v["pointer"], v["keyword"], v["rule"]] for v in evaluation["violations"])


def mismatches(case: EvaluateCase, evaluation: dict[str, Any]) -> list[str]:
    """How ``evaluation`` (an Evaluation as JSON) differs from what ``case`` expects."""
    if "problems" in evaluation:
        return [f"the definition was refused: {evaluation['problems']}"]
    found: list[str] = []
    expected = sorted([*v, ""][:3] for v in case.expected["violations"])
    if violation_set(evaluation) != expected:
        found.append(f"violations {violation_set(evaluation)} != expected {expected}")
    for where, shown in case.expected.get("visible", {}).items():
        if evaluation["visible"].get(where) is not shown:
            found.append(f"visible[{where}] is {evaluation['visible'].get(where)}, expected {shown}")
    if "required" in case.expected and sorted(evaluation["required"]) != sorted(case.expected["required"]):
        found.append(f"required {sorted(evaluation['required'])} != {sorted(case.expected['required'])}")
    for where, value in case.expected.get("computed", {}).items():
        if where not in evaluation["computed"] or not same(evaluation["computed"][where], value):
            found.append(
                f"computed[{where}] is {json.dumps(evaluation['computed'].get(where))}, expected {json.dumps(value)}"
            )
    if "answers" in case.expected and not same(evaluation["answers"], case.expected["answers"]):
        found.append(f"answers {json.dumps(evaluation['answers'])} != {json.dumps(case.expected['answers'])}")
    return found


def problem_set(problems: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted({(p["pointer"], p["reason"]) for p in problems})


def expected_problems(case: DefinitionCase) -> list[tuple[str, str]]:
    return sorted((pointer, reason) for pointer, reason in case.problems)
