"""The conformance corpus against the browser module under Node, and against the Python engine.

Every case is answered by both engines; a case fails if the browser module's answer differs from
the corpus or from the Python engine's (visibility, required set, computed values, violations and
stored answers in full), so any divergence fails the build.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.forms.engine import check_definition
from services.forms.engine.logic import apply
from services.forms.engine.values import js_value
from tests.conformance.forms.corpus import (
    DefinitionCase,
    EvaluateCase,
    RuleCase,
    definition_cases,
    evaluate_cases,
    expected_problems,
    mismatches,
    problem_set,
    rule_cases,
    same,
    violation_set,
)
from tests.conformance.forms.node import run_node
from tests.conformance.forms.test_python import python_evaluation

EVALUATE = evaluate_cases()
DEFINITIONS = definition_cases()
RULES = rule_cases()


@pytest.fixture(scope="module")
def node_answers() -> dict[str, Any]:
    return run_node(
        {
            "evaluate": [{"definition": c.definition, "answers": c.given, "locale": c.locale} for c in EVALUATE],
            "check": [c.definition for c in DEFINITIONS],
            "rules": [{"rule": c.rule, "data": c.data} for c in RULES],
        }
    )


def divergence(python: dict[str, Any], node: dict[str, Any]) -> list[str]:
    """Where the two engines' evaluations differ (messages aside)."""
    if "problems" in python or "problems" in node:
        return [] if problem_set(python.get("problems", [])) == problem_set(node.get("problems", [])) else ["problems"]
    found = [name for name in ("valid", "visible", "computed", "answers") if not same(python[name], node[name])]
    if sorted(python["required"]) != sorted(node["required"]):
        found.append("required")
    if violation_set(python) != violation_set(node):
        found.append(f"violations: python {violation_set(python)} node {violation_set(node)}")
    return found


@pytest.mark.parametrize("index", range(len(EVALUATE)), ids=[c.id for c in EVALUATE])
def test_evaluate(node_answers: dict[str, Any], index: int) -> None:
    case: EvaluateCase = EVALUATE[index]
    node = node_answers["evaluate"][index]
    assert mismatches(case, node) == []
    assert divergence(python_evaluation(case), node) == []


@pytest.mark.parametrize("index", range(len(DEFINITIONS)), ids=[c.id for c in DEFINITIONS])
def test_check_definition(node_answers: dict[str, Any], index: int) -> None:
    case: DefinitionCase = DEFINITIONS[index]
    node = problem_set(node_answers["check"][index])
    assert node == expected_problems(case)
    assert node == problem_set([p.as_json() for p in check_definition(case.definition)])


@pytest.mark.parametrize("index", range(len(RULES)), ids=[c.id for c in RULES])
def test_rule(node_answers: dict[str, Any], index: int) -> None:
    case: RuleCase = RULES[index]
    assert same(node_answers["rules"][index], case.result)
    assert same(node_answers["rules"][index], apply(js_value(case.rule), js_value(case.data)))
