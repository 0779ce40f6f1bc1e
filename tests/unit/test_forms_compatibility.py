"""compatibility_report: what a new version of a form accepts differently."""

from __future__ import annotations

import copy
from typing import Any

from tenantmesh.forms.v1 import form_pb2

from services.forms.engine import compatibility_report
from services.forms.engine.proto import report_message

PREVIOUS: dict[str, Any] = {
    "schema": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "size": {"type": "string", "enum": ["s", "m", "l"]},
            "nick": {"type": "string"},
            "items": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}},
        },
        "required": ["name"],
    },
    "fields": [
        {"key": "name", "type": "FIELD_TYPE_SHORT_TEXT"},
        {"key": "age", "type": "FIELD_TYPE_INTEGER"},
        {
            "key": "size",
            "type": "FIELD_TYPE_SINGLE_CHOICE",
            "options": [{"value": "s"}, {"value": "m"}, {"value": "l"}],
        },
        {"key": "nick", "type": "FIELD_TYPE_SHORT_TEXT"},
        {
            "key": "items",
            "type": "FIELD_TYPE_REPEATING_GROUP",
            "fields": [{"key": "qty", "type": "FIELD_TYPE_INTEGER"}],
        },
    ],
}


def kinds(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(change["field"], change["kind"].removeprefix("FIELD_CHANGE_KIND_")) for change in report["changes"]]


def test_the_same_definition_changes_nothing() -> None:
    assert compatibility_report(PREVIOUS, copy.deepcopy(PREVIOUS)) == {"changes": [], "breaking": False}


def test_every_kind_of_change() -> None:
    nxt = copy.deepcopy(PREVIOUS)
    props = nxt["schema"]["properties"]
    props["age"] = {"type": "number"}
    props["size"]["enum"] = ["m", "l", "xl"]
    del props["nick"]
    props["email"] = {"type": "string", "format": "email"}
    props["items"]["items"]["properties"]["note"] = {"type": "string"}
    nxt["schema"]["required"] = ["name", "email"]
    nxt["fields"] = [
        {"key": "name", "type": "FIELD_TYPE_SHORT_TEXT"},
        {"key": "age", "type": "FIELD_TYPE_NUMBER"},
        {
            "key": "size",
            "type": "FIELD_TYPE_SINGLE_CHOICE",
            "options": [{"value": "m"}, {"value": "l"}, {"value": "xl"}],
        },
        {"key": "email", "type": "FIELD_TYPE_EMAIL"},
        {
            "key": "items",
            "type": "FIELD_TYPE_REPEATING_GROUP",
            "fields": [
                {"key": "qty", "type": "FIELD_TYPE_INTEGER", "requiredWhen": True},
                {"key": "note", "type": "FIELD_TYPE_SHORT_TEXT"},
            ],
        },
    ]
    report = compatibility_report(PREVIOUS, nxt)
    assert kinds(report) == [
        ("age", "TYPE_CHANGED"),
        ("email", "ADDED"),
        ("email", "NEWLY_REQUIRED"),
        ("items.note", "ADDED"),
        ("items.qty", "NEWLY_REQUIRED"),
        ("nick", "REMOVED"),
        ("size", "OPTIONS_REMOVED"),
    ]
    assert report["breaking"] is True
    size = next(c for c in report["changes"] if c["field"] == "size")
    assert size["removedOptions"] == ["s"]
    age = next(c for c in report["changes"] if c["field"] == "age")
    assert (age["previousType"], age["type"]) == ("FIELD_TYPE_INTEGER", "FIELD_TYPE_NUMBER")
    message = report_message(report)
    assert message.breaking
    assert message.changes[0].kind == form_pb2.FIELD_CHANGE_KIND_TYPE_CHANGED


def test_only_new_optional_fields_is_not_breaking() -> None:
    nxt = copy.deepcopy(PREVIOUS)
    nxt["schema"]["properties"]["extra"] = {"type": "boolean"}
    nxt["fields"].append({"key": "extra", "type": "FIELD_TYPE_CHECKBOX"})
    report = compatibility_report(PREVIOUS, nxt)
    assert kinds(report) == [("extra", "ADDED")]
    assert report["breaking"] is False


def test_a_required_field_becoming_optional_is_not_a_change() -> None:
    nxt = copy.deepcopy(PREVIOUS)
    nxt["schema"]["required"] = []
    assert compatibility_report(PREVIOUS, nxt)["changes"] == []
