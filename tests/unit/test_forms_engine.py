"""The forms engine's own behaviour around evaluation: caching, refusal of bad definitions, proto JSON."""

from __future__ import annotations

import pytest

from services.forms.engine import DefinitionError, compile_definition, content_hash, evaluate
from services.forms.engine.messages import pick
from services.forms.engine.proto import definition_json, definition_message
from services.forms.engine.values import js_string

DEFINITION = {
    "schema": {"type": "object", "properties": {"n": {"type": "integer", "maximum": 5}}},
    "fields": [{"key": "n", "type": "FIELD_TYPE_INTEGER", "label": {"en": "N", "id": "N (id)"}}],
}


def test_compiled_forms_are_cached_by_content() -> None:
    same_content = {"fields": DEFINITION["fields"], "schema": DEFINITION["schema"]}
    assert compile_definition(DEFINITION) is compile_definition(same_content)
    assert content_hash(DEFINITION) == content_hash(same_content)
    other = {**DEFINITION, "defaultLocale": "id"}
    assert content_hash(other) != content_hash(DEFINITION)


def test_a_definition_with_problems_is_not_evaluated() -> None:
    with pytest.raises(DefinitionError) as refused:
        evaluate(
            {"schema": {"type": "object", "properties": {}}, "fields": [{"key": "x", "type": "FIELD_TYPE_NOPE"}]}, {}
        )
    assert [(p.pointer, p.reason) for p in refused.value.problems] == [("/fields/0/type", "LAYOUT_TYPE_INVALID")]


def test_the_proto_json_of_a_definition_evaluates_like_the_json() -> None:
    # Struct numbers come back from protobuf as doubles (maximum: 5.0); the engine reads them as 5.
    document = definition_json(definition_message(DEFINITION))
    assert document["schema"]["properties"]["n"]["maximum"] == 5
    assert [(v.pointer, v.keyword) for v in evaluate(document, {"n": 6.0}).violations] == [("/n", "maximum")]
    assert content_hash(document) == content_hash(DEFINITION)


def test_evaluate_does_not_change_the_answers_given() -> None:
    answers = {"n": 3, "extra": None}
    result = evaluate(DEFINITION, answers)
    assert answers == {"n": 3, "extra": None}
    assert result.answers == {"n": 3}


@pytest.mark.parametrize(
    ("locale", "text"),
    [("id", "Nama"), ("id-ID", "Nama"), ("ID", "Nama"), ("en-GB", "Name"), ("fr", "Name (de)"), ("", "Name (de)")],
)
def test_locale_fallback(locale: str, text: str) -> None:
    # Exact tag, then its language, then the definition's default locale ("de" here), then English.
    assert pick({"en": "Name", "id": "Nama", "de": "Name (de)"}, locale, "de") == text


def test_locale_last_resort_is_the_first_tag() -> None:
    assert pick({"fr": "Nom", "es": "Nombre"}, "id", "de") == "Nombre"


@pytest.mark.parametrize(
    ("number", "text"),
    [(1e21, "1e+21"), (1e-7, "1e-7"), (123.456, "123.456"), (1e16, "10000000000000000"),
     (0.1 + 0.2, "0.30000000000000004"), (-0.0, "0"), (5e-324, "5e-324"), (2**53 + 1, "9007199254740992"),
     (-1.5e-10, "-1.5e-10"), (0.000001, "0.000001")],
)  # fmt: skip
def test_numbers_print_as_javascript_prints_them(number: float, text: str) -> None:
    assert js_string(number) == text


def test_corpus_definitions_pass_the_protos_validation_rules() -> None:
    # The service will validate a FormDefinition with protovalidate before the engine checks it:
    # every definition the corpus evaluates must get through, and bad keys or types must not.
    import protovalidate  # noqa: PLC0415 - only this test needs it

    from tests.conformance.forms.corpus import evaluate_cases  # noqa: PLC0415

    for case in evaluate_cases():
        assert protovalidate.collect_violations(definition_message(case.definition)) == [], case.id
    bad = definition_message(
        {"schema": {}, "fields": [{"key": "a.b", "type": "FIELD_TYPE_UNSPECIFIED"}], "defaultLocale": "English"}
    )
    rules = sorted(violation.proto.rule_id for violation in protovalidate.collect_violations(bad))
    assert rules == ["enum.not_in", "string.pattern", "string.pattern"]
