"""Pieces of the forms service that need no server: the filter language, the reasons mirrored from
the engine, file answers found in nested answers, the texts a service's form lets a tenant change."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from services.forms.convert import submissions_page_json
from services.forms.definitions import dumps, without_texts
from services.forms.engine import Reason, compile_definition
from services.forms.export import spreadsheet_text
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


def test_texts_are_only_the_layouts_never_schema_property_names() -> None:
    def form(max_length: int, label: str) -> dict[str, object]:
        return {
            "schema": {"type": "object", "properties": {"label": {"type": "string", "maxLength": max_length}}},
            "fields": [
                {
                    "key": "group",
                    "type": "FIELD_TYPE_GROUP",
                    "fields": [{"key": "label", "type": "FIELD_TYPE_SINGLE_CHOICE", "label": {"en": label}}],
                    "options": [{"value": "a", "label": {"en": label}}],
                }
            ],
        }

    assert without_texts(form(10, "A")) == without_texts(form(10, "B"))
    assert without_texts(form(10, "A")) != without_texts(form(11, "A"))


@pytest.mark.parametrize(
    "text", ["", "plain", 'quote " and \\ backslash', "line\nbreak\ttab\x01", "é 😀 \u2028 \ud7ff"]
)
def test_a_listed_submission_is_the_json_its_fields_print_as(text: str) -> None:
    """The page ListSubmissionsJson writes: each submission's fields as json.dumps prints them
    (the edge's names and order, UTF-8 as it is, no spaces), its answers spliced in as stored."""
    created = datetime(2026, 12, 6, 20, 1, 2, 345000)
    row = SimpleNamespace(
        submission_id="0193a6b0-0000-7000-8000-000000000001",
        version=3,
        status="ACCEPTED",
        submitter=text,
        note=text * 2,
        revision_count=2,
        revision=4,
        create_time=created,
        update_time=created + timedelta(microseconds=1),
        answers_json=dumps({"name": text, "n": 1.5, "items": [{"qty": 2}]}),
    )
    page = submissions_page_json([(row, "intake"), (row, text)], "next")
    fields = {
        "submissionId": row.submission_id,
        "formKey": "intake",
        "version": 3,
        "status": "SUBMISSION_STATUS_ACCEPTED",
        "submitter": text,
        "note": text * 2,
        "revisionCount": 2,
        "createTime": "2026-12-06T20:01:02.345Z",
        "updateTime": "2026-12-06T20:01:02.345001Z",
        "etag": "4",
        "answers": {"items": [{"qty": 2}], "n": 1.5, "name": text},
    }
    expected = {"submissions": [fields, fields | {"formKey": text}], "nextPageToken": "next"}
    assert page == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=1+2", "'=1+2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ('+HYPERLINK("https://x.test","go")', '\'+HYPERLINK("https://x.test","go")'),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("\t=1+2", "'\t=1+2"),
        ("\r=1+2", "'\r=1+2"),
        # Phone numbers and signed numbers stay as they were answered; so does any other text.
        ("+62 21 555-0100", "+62 21 555-0100"),
        ("+1 (555) 010-0100", "+1 (555) 010-0100"),
        ("-42.5", "-42.5"),
        ("Ada = Bo", "Ada = Bo"),
        ("", ""),
    ],
)
def test_an_exported_cell_is_never_a_formula(text: str, shown: str) -> None:
    assert spreadsheet_text(text) == shown
