"""The conformance corpus against the Python engine (services/forms/engine)."""

from __future__ import annotations

from typing import Any

import pytest

from services.forms.engine import DefinitionError, check_definition, evaluate
from services.forms.engine.logic import apply, compile_rule
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
)


def python_evaluation(case: EvaluateCase) -> dict[str, Any]:
    try:
        return evaluate(case.definition, case.given, case.locale).as_json()
    except DefinitionError as error:
        return {"problems": [problem.as_json() for problem in error.problems]}


@pytest.mark.parametrize("case", evaluate_cases(), ids=lambda case: case.id)
def test_evaluate(case: EvaluateCase) -> None:
    assert mismatches(case, python_evaluation(case)) == []


@pytest.mark.parametrize("case", definition_cases(), ids=lambda case: case.id)
def test_check_definition(case: DefinitionCase) -> None:
    found = problem_set([problem.as_json() for problem in check_definition(case.definition)])
    assert found == expected_problems(case)


@pytest.mark.parametrize("case", rule_cases(), ids=lambda case: case.id)
def test_rule(case: RuleCase) -> None:
    assert same(apply(js_value(case.rule), js_value(case.data)), case.result)
    assert same(compile_rule(js_value(case.rule))(js_value(case.data)), case.result)
