"""generate_definition: a usable form for a service's JSON Schema, with the layout issue 11 §4 describes."""

from __future__ import annotations

from typing import Any

import pytest
from tenantmesh.registry.v1 import service_pb2

from services.forms.engine import check_definition, evaluate, generate_definition
from services.forms.engine.proto import definition_json, definition_message
from services.forms.installer import contributed_form
from services.runtime.json_documents import dict_to_struct

SERVICE_CONFIG = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Billing",
    "description": "How invoices are sent",
    "type": "object",
    "$defs": {"contact": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}},
    "properties": {
        "company_name": {"type": "string", "title": "Company", "maxLength": 100},
        "notes": {"type": "string", "maxLength": 2000, "description": "Shown on every invoice"},
        "billingDay": {"type": "integer", "minimum": 1, "maximum": 28},
        "rate": {"type": "number"},
        "active": {"type": "boolean"},
        "currency": {"type": "string", "enum": ["IDR", "USD", "EUR"]},
        "plan": {"enum": ["a", "b", "c", "d", "e"]},
        "channels": {"type": "array", "items": {"enum": ["email", "sms"]}, "uniqueItems": True},
        "website": {"type": "string", "format": "uri"},
        "starts": {"type": "string", "format": "date"},
        "cutoff": {"type": "string", "format": "time"},
        "updated": {"type": "string", "format": "date-time"},
        "contact": {"$ref": "#/$defs/contact"},
        "recipients": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "cc": {"type": "boolean"}}},
        },
    },
    "required": ["company_name", "currency"],
}


def by_key(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {field["key"]: field for field in fields}


def test_generated_layout_follows_types_formats_and_titles() -> None:
    definition = generate_definition(SERVICE_CONFIG)
    fields = by_key(definition["fields"])
    assert definition["title"] == {"en": "Billing"}
    assert fields["company_name"]["label"] == {"en": "Company"}
    assert fields["company_name"]["type"] == "FIELD_TYPE_SHORT_TEXT"
    assert fields["notes"]["type"] == "FIELD_TYPE_LONG_TEXT"
    assert fields["notes"]["helpText"] == {"en": "Shown on every invoice"}
    assert fields["billingDay"]["label"] == {"en": "Billing day"}
    assert fields["billingDay"]["type"] == "FIELD_TYPE_INTEGER"
    assert fields["rate"]["type"] == "FIELD_TYPE_NUMBER"
    assert fields["active"]["type"] == "FIELD_TYPE_CHECKBOX"
    assert (fields["currency"]["type"], fields["currency"]["widget"]) == ("FIELD_TYPE_SINGLE_CHOICE", "WIDGET_RADIO")
    assert [option["value"] for option in fields["currency"]["options"]] == ["IDR", "USD", "EUR"]
    assert fields["plan"]["widget"] == "WIDGET_SELECT"
    assert fields["channels"]["type"] == "FIELD_TYPE_MULTIPLE_CHOICE"
    assert fields["website"]["type"] == "FIELD_TYPE_URL"
    assert fields["starts"]["type"] == "FIELD_TYPE_DATE"
    assert fields["cutoff"]["type"] == "FIELD_TYPE_TIME"
    assert fields["updated"]["type"] == "FIELD_TYPE_DATE_TIME"
    assert fields["contact"]["type"] == "FIELD_TYPE_GROUP"
    assert by_key(fields["contact"]["fields"])["email"]["type"] == "FIELD_TYPE_EMAIL"
    recipients = fields["recipients"]
    assert (recipients["type"], recipients["minItems"], recipients["maxItems"]) == ("FIELD_TYPE_REPEATING_GROUP", 1, 5)
    assert [child["key"] for child in recipients["fields"]] == ["name", "cc"]


def test_generated_definition_is_valid_and_evaluates() -> None:
    definition = generate_definition(SERVICE_CONFIG)
    assert check_definition(definition) == []
    result = evaluate(definition, {"company_name": "ACME", "currency": "IDR", "recipients": [{"name": "Ada"}]})
    assert result.valid
    missing = evaluate(definition, {})
    assert sorted((v.pointer, v.keyword) for v in missing.violations) == [
        ("/company_name", "required"),
        ("/currency", "required"),
    ]


def test_generated_definition_is_a_form_definition_message() -> None:
    definition = generate_definition(SERVICE_CONFIG)
    message = definition_message(definition)
    assert [field.key for field in message.fields][:2] == ["company_name", "notes"]
    assert check_definition(definition_json(message)) == []


def test_what_cannot_be_a_field_is_left_to_the_check() -> None:
    definition = generate_definition(
        {"type": "object", "properties": {"bad.key": {"type": "string"}, "either": {"type": ["string", "null"]}}}
    )
    reasons = {(p.pointer, p.reason) for p in check_definition(definition)}
    assert ("/fields/0/key", "LAYOUT_KEY_INVALID") in reasons
    assert ("/fields/1/type", "LAYOUT_SCHEMA_MISMATCH") in reasons


def test_a_schema_that_is_not_an_object_gives_no_fields() -> None:
    assert generate_definition({"type": "string"})["fields"] == []


RECURSIVE_SCHEMAS = {
    "property is the root": {"type": "object", "properties": {"child": {"$ref": "#"}}},
    "definition refers to itself": {
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    },
    "items are the root": {"type": "object", "properties": {"list": {"type": "array", "items": {"$ref": "#"}}}},
}


@pytest.mark.parametrize("schema", RECURSIVE_SCHEMAS.values(), ids=list(RECURSIVE_SCHEMAS))
def test_a_recursive_schema_is_laid_out_once_and_left_to_the_check(schema: dict[str, Any]) -> None:
    # A schema that contains itself has no finite form: the recursive field gets no fields.
    definition = generate_definition(schema)
    [field] = definition["fields"]
    assert field["fields"] == []
    assert check_definition(definition)


def test_a_format_that_is_no_name_is_left_to_the_check() -> None:
    definition = generate_definition(
        {"type": "object", "properties": {"a": {"type": "string", "format": {}}, "b": {"type": "string", "format": []}}}
    )
    assert [field["type"] for field in definition["fields"]] == ["FIELD_TYPE_SHORT_TEXT"] * 2
    reasons = {(p.pointer, p.reason) for p in check_definition(definition)}
    assert reasons == {
        ("/schema/properties/a/format", "SCHEMA_INVALID"),
        ("/schema/properties/b/format", "SCHEMA_INVALID"),
    }


@pytest.mark.parametrize("schema", RECURSIVE_SCHEMAS.values(), ids=list(RECURSIVE_SCHEMAS))
def test_a_service_contributing_a_recursive_schema_gets_no_form(schema: dict[str, Any]) -> None:
    contribution = service_pb2.FormContribution(id="tree", title="Tree", schema=dict_to_struct(schema))
    assert contributed_form("svc", contribution) is None
