"""``compatibility_report``: what a new version of a form accepts differently from the previous one.

Fields are matched by path. Reported, per field: added, removed, type changed (the field type, or
its schema's type or format), newly required (by the schema, or a require-when rule it did not have;
a new field that is required counts too), options removed. A change is breaking when answers valid
for the previous version may be refused now: anything but a new optional field. The report is the
canonical JSON of ``tenantmesh.forms.v1.CompatibilityReport``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from services.forms.engine.check import analyze_definition
from services.forms.engine.layout import CHOICE_TYPES, Element, choice_values
from services.forms.engine.values import JSON, canonical_json

_KIND_ORDER: Final = ("ADDED", "REMOVED", "TYPE_CHANGED", "NEWLY_REQUIRED", "OPTIONS_REMOVED")


@dataclass(frozen=True)
class _Field:
    type: str
    schema_type: JSON
    schema_format: JSON
    required: bool
    conditionally_required: bool
    options: list[JSON]


def _fields(definition: JSON) -> dict[str, _Field]:
    checked = analyze_definition(definition)
    fields: dict[str, _Field] = {}
    for element in checked.layout.elements:
        if element.is_value:
            fields[element.path] = _describe(element, checked.schema)
    return fields


def _describe(element: Element, schema: dict[str, Any]) -> _Field:
    node = element.schema if isinstance(element.schema, dict) else {}
    options = (choice_values(element, schema) or []) if element.type in CHOICE_TYPES else []
    return _Field(
        type=element.type,
        schema_type=node.get("type"),
        schema_format=node.get("format"),
        required=element.required_by_schema,
        conditionally_required=element.rule("requiredWhen") is not None,
        options=options,
    )


def compatibility_report(previous: JSON, next_definition: JSON) -> dict[str, Any]:
    before, after = _fields(previous), _fields(next_definition)
    changes: list[dict[str, Any]] = []

    def change(path: str, kind: str, **details: Any) -> None:
        changes.append({"field": path, "kind": f"FIELD_CHANGE_KIND_{kind}", **details})

    for path in before:
        if path not in after:
            change(path, "REMOVED")
    for path, new in after.items():
        old_field = before.get(path)
        if old_field is None:
            change(path, "ADDED")
            if new.required or new.conditionally_required:
                change(path, "NEWLY_REQUIRED")
            continue
        if (old_field.type, old_field.schema_type, old_field.schema_format) != (
            new.type,
            new.schema_type,
            new.schema_format,
        ):
            change(path, "TYPE_CHANGED", previousType=f"FIELD_TYPE_{old_field.type}", type=f"FIELD_TYPE_{new.type}")
        if (new.required and not old_field.required) or (
            new.conditionally_required and not old_field.conditionally_required and not old_field.required
        ):
            change(path, "NEWLY_REQUIRED")
        kept = {canonical_json(value) for value in new.options}
        removed = [value for value in old_field.options if canonical_json(value) not in kept]
        if removed:
            change(path, "OPTIONS_REMOVED", removedOptions=removed)
    changes.sort(key=lambda c: (c["field"], _KIND_ORDER.index(c["kind"].removeprefix("FIELD_CHANGE_KIND_"))))
    breaking = any(c["kind"] != "FIELD_CHANGE_KIND_ADDED" for c in changes)
    return {"changes": changes, "breaking": breaking}
