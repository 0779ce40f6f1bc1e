"""``generate_definition``: a form for any JSON Schema (issue 11 §4), as a draft to refine.

Labels come from titles (else the property name, humanised), help texts from descriptions, widgets
from types and formats, enums become choices (radio buttons up to four options, a list beyond),
nested objects groups and arrays of objects repeating groups. The schema itself is kept as the
answers' schema, so what was valid for the service stays valid for the form; whatever cannot be a
field (a property name rules cannot use, a type list) is left for ``check_definition`` to report.
"""

from __future__ import annotations

import re
from typing import Any, Final

from services.forms.engine.schema import resolve
from services.forms.engine.values import JSON, is_number

_FORMAT_TYPES: Final = {"email": "EMAIL", "uri": "URL", "date": "DATE", "date-time": "DATE_TIME", "time": "TIME"}
_LONG_TEXT_FROM: Final = 200  # maxLength above which text gets a text area
_RADIO_UP_TO: Final = 4
# Paths of object schemas (after references) whose fields are being laid out.
_Expanding = frozenset[tuple[str | int, ...]]


def humanize(key: str) -> str:
    """``billing_address`` / ``billingAddress`` / ``billing-address`` → ``Billing address``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key).replace("_", " ").replace("-", " ").split()
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:] if text else key


def _texts(node: dict[str, Any], key: str) -> dict[str, Any]:
    texts: dict[str, Any] = {
        "label": {"en": node.get("title") if isinstance(node.get("title"), str) else humanize(key)}
    }
    if isinstance(node.get("description"), str) and node["description"]:
        texts["helpText"] = {"en": node["description"]}
    return texts


def generate_definition(json_schema: dict[str, Any]) -> dict[str, Any]:
    """A FormDefinition (canonical JSON) laying out ``json_schema``'s properties."""
    definition: dict[str, Any] = {"schema": json_schema, "defaultLocale": "en", "fields": []}
    root = resolve(json_schema, [])
    if root is None or not isinstance(root[1], dict):
        return definition
    node = root[1]
    if isinstance(node.get("title"), str):
        definition["title"] = {"en": node["title"]}
    if isinstance(node.get("description"), str):
        definition["description"] = {"en": node["description"]}
    definition["fields"] = _fields(json_schema, root[0], frozenset())
    return definition


def _fields(schema: dict[str, Any], parts: list[str | int], expanding: _Expanding) -> list[dict[str, Any]]:
    """The fields of the object schema at ``parts``; ``expanding``: the object schemas whose fields
    are being laid out around it (a reference back to one of them is a recursive schema)."""
    node = resolve(schema, parts)
    properties = node[1].get("properties") if node and isinstance(node[1], dict) else None
    if not isinstance(properties, dict):
        return []
    where = node[0] if node else parts
    if tuple(where) in expanding:
        # A schema that contains itself ({"$ref": "#"}) has no finite layout: its group is left
        # without fields, which check_definition reports.
        return []
    inside = expanding | {tuple(where)}
    return [_field(schema, [*where, "properties", key], key, inside) for key in properties]


def _field(schema: dict[str, Any], parts: list[str | int], key: str, expanding: _Expanding) -> dict[str, Any]:
    resolved = resolve(schema, parts)
    node: JSON = resolved[1] if resolved else {}
    node = node if isinstance(node, dict) else {}
    where = resolved[0] if resolved else parts
    field: dict[str, Any] = {"key": key, **_texts(node, key)}
    kind = node.get("type")
    if isinstance(node.get("enum"), list) and kind != "array":
        field["type"] = "FIELD_TYPE_SINGLE_CHOICE"
        field["widget"] = "WIDGET_RADIO" if len(node["enum"]) <= _RADIO_UP_TO else "WIDGET_SELECT"
        field["options"] = [{"value": value} for value in node["enum"]]
    elif kind == "object":
        field["type"] = "FIELD_TYPE_GROUP"
        field["fields"] = _fields(schema, where, expanding)
    elif kind == "array":
        items = resolve(schema, [*where, "items"])
        item: JSON = items[1] if items else None
        if isinstance(item, dict) and item.get("type") == "object":
            field["type"] = "FIELD_TYPE_REPEATING_GROUP"
            field["fields"] = _fields(schema, items[0], expanding)  # type: ignore[index]
            for name in ("minItems", "maxItems"):
                if is_number(node.get(name)):
                    field[name] = node[name]
        else:
            field["type"] = "FIELD_TYPE_MULTIPLE_CHOICE"
            field["widget"] = "WIDGET_CHECKBOXES"
            values = item.get("enum") if isinstance(item, dict) else None
            field["options"] = [{"value": value} for value in values] if isinstance(values, list) else []
    elif kind == "string":
        field["type"] = "FIELD_TYPE_" + _FORMAT_TYPES.get(_format(node), _text_type(node))
    elif kind == "integer":
        field["type"] = "FIELD_TYPE_INTEGER"
    elif kind == "number":
        field["type"] = "FIELD_TYPE_NUMBER"
    elif kind == "boolean":
        field["type"] = "FIELD_TYPE_CHECKBOX"
    else:
        field["type"] = "FIELD_TYPE_SHORT_TEXT"  # no single type: check_definition will say so
    return field


def _text_type(node: dict[str, Any]) -> str:
    limit = node.get("maxLength")
    return "LONG_TEXT" if isinstance(limit, int | float) and limit > _LONG_TEXT_FROM else "SHORT_TEXT"


def _format(node: dict[str, Any]) -> str:
    """The node's format, when it is a name at all (any other value is for check_definition to refuse)."""
    value = node.get("format")
    return value if isinstance(value, str) else ""
