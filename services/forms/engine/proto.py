"""The definition message and the JSON the engine reads: canonical proto3 JSON, as REST returns it."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from tenantmesh.forms.v1 import form_pb2

from services.forms.engine.values import js_value


def definition_json(message: form_pb2.FormDefinition) -> dict[str, Any]:
    """The canonical JSON of a FormDefinition (whole numbers in Structs read back as integers)."""
    document: dict[str, Any] = js_value(json_format.MessageToDict(message))
    return document


def definition_message(document: dict[str, Any]) -> form_pb2.FormDefinition:
    """A FormDefinition from its JSON; unknown fields are refused (json_format.ParseError)."""
    message = form_pb2.FormDefinition()
    json_format.ParseDict(document, message)
    return message


def report_message(report: dict[str, Any]) -> form_pb2.CompatibilityReport:
    message = form_pb2.CompatibilityReport()
    json_format.ParseDict(report, message)
    return message
