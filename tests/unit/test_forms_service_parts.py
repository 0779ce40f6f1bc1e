"""Pieces of the forms service that need no server: the filter language, the reasons mirrored from
the engine, file answers found in nested answers, the texts a service's form lets a tenant change."""

from __future__ import annotations

import pytest

from services.forms.definitions import without_texts
from services.forms.engine import Reason, compile_definition
from services.forms.files import file_answers
from services.forms.filters import Clause, parse_filter
from services.forms.reasons import DefinitionReason
from services.runtime.errors import InvalidArgument


def test_definition_reasons_are_the_engines() -> None:
    assert {r.value for r in DefinitionReason} == {r.value for r in Reason}


def test_filters_parse_strings_numbers_and_booleans() -> None:
    assert parse_filter('answers.country = "ID" AND answers.age >= 18 AND answers.ok != true') == [
        Clause("country", "=", "ID"),
        Clause("age", ">=", 18.0),
        Clause("ok", "!=", True),
    ]
    assert parse_filter("  ") == []
    assert parse_filter('answers.name = "say \\"hi\\""') == [Clause("name", "=", 'say "hi"')]


@pytest.mark.parametrize(
    "text",
    [
        "country = 1",
        "answers.a = ",
        "answers.a == 1",
        'answers.a = "x" OR answers.b = 1',
        "answers.a > true",
        "answers.a.b = 1",
    ],
)
def test_filters_that_do_not_parse_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(text)
    assert caught.value.reason == "FILTER_INVALID"


def test_file_answers_are_found_inside_repeating_groups() -> None:
    form = compile_definition(
        {
            "schema": {
                "type": "object",
                "properties": {
                    "docs": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"scan": {"type": "string"}}},
                    }
                },
            },
            "fields": [
                {
                    "key": "docs",
                    "type": "FIELD_TYPE_REPEATING_GROUP",
                    "fields": [{"key": "scan", "type": "FIELD_TYPE_FILE"}],
                }
            ],
        }
    )
    found = file_answers(form, {"docs": [{"scan": "a"}, {}, {"scan": "c"}]})
    assert [(f.pointer, f.field, f.reference) for f in found] == [
        ("/docs/0/scan", "docs.scan", "a"),
        ("/docs/2/scan", "docs.scan", "c"),
    ]


def test_only_texts_may_differ_in_a_services_form() -> None:
    base = {"fields": [{"key": "a", "type": "FIELD_TYPE_SHORT_TEXT", "label": {"en": "A"}}]}
    relabelled = {
        "fields": [{"key": "a", "type": "FIELD_TYPE_SHORT_TEXT", "label": {"en": "B"}, "helpText": {"en": "x"}}]
    }
    retyped = {"fields": [{"key": "a", "type": "FIELD_TYPE_LONG_TEXT", "label": {"en": "A"}}]}
    assert without_texts(base) == without_texts(relabelled)
    assert without_texts(base) != without_texts(retyped)
