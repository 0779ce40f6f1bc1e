"""Messages and enums -> JSON Schema (2020-12, as OpenAPI 3.1 uses it), in the transcoder's JSON form.

Envoy's transcoder prints lowerCamelCase names (``json_name``), 64-bit integers as
strings, enums by name and well-known types in their canonical JSON. Every message
becomes one component schema named by its full proto name; fields refer to it.
"""

from __future__ import annotations

import copy
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

from services.openapi import nulls
from services.openapi import rules as validate
from services.openapi.descriptors import ProtoIndex

Schema = dict[str, Any]
FieldProto = descriptor_pb2.FieldDescriptorProto

_FIELD_BEHAVIOR: Any = field_behavior_pb2.field_behavior
_BEHAVIOR_NAME: Any = field_behavior_pb2.FieldBehavior.Name

_SCALARS: dict[int, Schema] = {
    FieldProto.TYPE_DOUBLE: {"type": "number"},
    FieldProto.TYPE_FLOAT: {"type": "number"},
    FieldProto.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    FieldProto.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    # 64-bit integers are JSON strings (a double cannot hold them).
    FieldProto.TYPE_INT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldProto.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldProto.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldProto.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    FieldProto.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    FieldProto.TYPE_BOOL: {"type": "boolean"},
    FieldProto.TYPE_STRING: {"type": "string"},
    FieldProto.TYPE_BYTES: {"type": "string", "format": "byte", "contentEncoding": "base64"},
}

_ZERO: dict[int, Any] = {
    FieldProto.TYPE_STRING: "",
    FieldProto.TYPE_BYTES: "",
    FieldProto.TYPE_BOOL: False,
    **{t: 0 for t in (FieldProto.TYPE_DOUBLE, FieldProto.TYPE_FLOAT, FieldProto.TYPE_INT32)},
    **{t: 0 for t in (FieldProto.TYPE_SINT32, FieldProto.TYPE_SFIXED32, FieldProto.TYPE_UINT32)},
    FieldProto.TYPE_FIXED32: 0,
}

_ANY_JSON: Schema = {}  # google.protobuf.Value: any JSON value

# Well-known types in their canonical JSON forms (inlined, never components).
WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated lowerCamelCase field paths."},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": _ANY_JSON},
    "google.protobuf.Value": _ANY_JSON,
    "google.protobuf.ListValue": {"type": "array", "items": _ANY_JSON},
    "google.protobuf.Empty": {"type": "object", "maxProperties": 0},
    "google.protobuf.Any": {
        "type": "object",
        "required": ["@type"],
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
    "google.protobuf.DoubleValue": {"type": ["number", "null"]},
    "google.protobuf.FloatValue": {"type": ["number", "null"]},
    "google.protobuf.Int32Value": {"type": ["integer", "null"], "format": "int32"},
    "google.protobuf.UInt32Value": {"type": ["integer", "null"], "minimum": 0},
    "google.protobuf.Int64Value": {"type": ["string", "null"], "format": "int64"},
    "google.protobuf.UInt64Value": {"type": ["string", "null"], "format": "uint64"},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BytesValue": {"type": ["string", "null"], "format": "byte"},
}

# Well-known types that travel as one JSON scalar (so they can be query parameters).
SCALAR_WELL_KNOWN = {name for name, schema in WELL_KNOWN.items() if schema.get("type") not in ("object", "array", None)}

COMPONENT_PREFIX = "#/components/schemas/"


def component_ref(full_name: str) -> Schema:
    return {"$ref": COMPONENT_PREFIX + full_name}


def json_name(field: FieldProto) -> str:
    if field.json_name:
        return field.json_name
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def behaviors(field: FieldProto) -> list[str]:
    """The field's google.api.field_behavior values by name (REQUIRED, OUTPUT_ONLY, ...)."""
    return [_BEHAVIOR_NAME(b) for b in field.options.Extensions[_FIELD_BEHAVIOR]]


def has_presence(field: FieldProto) -> bool:
    return (
        field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_GROUP)
        or field.proto3_optional
        or field.HasField("oneof_index")
    ) and field.label != FieldProto.LABEL_REPEATED


def is_required(field: FieldProto) -> bool:
    """Required by the contract: field_behavior REQUIRED or a protovalidate `required` rule."""
    return "REQUIRED" in behaviors(field) or validate.is_required(validate.field_rules(field.options))


def _non_zero(field: FieldProto, schema: Schema) -> Schema:
    """protovalidate's `required` on a field without presence: the zero value is refused
    (enums: handled by the schema builder, which knows the values)."""
    if field.type in (FieldProto.TYPE_STRING, FieldProto.TYPE_BYTES):
        return {"minLength": 1}
    if field.type == FieldProto.TYPE_BOOL:
        return {"const": True}
    if schema.get("type") in ("integer", "number"):
        return {"not": {"const": 0}}
    return {}


# Suffix of the request form of a message whose rules make it differ from the response form.
# Proto identifiers cannot contain "-", so it never collides with a message's own name.
INPUT_SUFFIX = "-Input"


class SchemaBuilder:
    """Builds component schemas on demand; ``components`` holds every one referenced so far.

    A message has two forms. The response form says what the edge sends: types, formats of
    well-known types, descriptions, field behaviours, and no validation rules, which are
    checked on what callers send, not promised of what is stored (the platform tenant's slug
    is a reserved word no caller may choose). The request form adds the protovalidate rules,
    `required` and the oneof constraints; it is its own component (``<name>-Input``) only
    where it differs.
    """

    def __init__(self, index: ProtoIndex) -> None:
        self.index = index
        self.components: dict[str, Schema] = {}
        # Messages whose request form is their response form (no rules anywhere inside).
        self._same: set[str] = set()

    # ------------------------------------------------------------------ messages

    def message_ref(self, type_name: str, *, request: bool = False) -> Schema:
        """A schema for a message type: well-known types inline, others as a component $ref."""
        full_name = type_name.lstrip(".")
        if full_name in WELL_KNOWN:
            return copy.deepcopy(WELL_KNOWN[full_name])
        if full_name not in self.components:
            self.components[full_name] = {}  # placeholder: recursive types refer to it
            self.components[full_name] = self.message_schema(full_name)
        if not request:
            return component_ref(full_name)
        key = full_name + INPUT_SUFFIX
        if key not in self.components:
            self.components[key] = {}
            form = self.message_schema(full_name, request=True)
            if form == self.components[full_name]:
                del self.components[key]
                self._same.add(full_name)
            else:
                self.components[key] = form
        return component_ref(full_name if full_name in self._same else key)

    def message_schema(self, full_name: str, *, drop: frozenset[str] = frozenset(), request: bool = False) -> Schema:
        """The object schema of a message; fields named (proto names) in ``drop`` are left out
        and refused (they are bound from the path)."""
        info = self.index.message(full_name)
        message = info.proto
        schema: Schema = {"type": "object"}
        description = self.index.comment(full_name)
        if description:
            schema["description"] = description
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for field in message.field:
            name = json_name(field)
            if field.name in drop:
                properties[name] = False  # type: ignore[assignment]
                continue
            prop = self.field_schema(field, f"{full_name}.{field.name}", request=request)
            if request:
                prop = nulls.request_property(
                    prop,
                    field,
                    required=is_required(field),
                    is_map=self._is_map(field),
                    map_value=self._map_value_zero(field),
                )
            properties[name] = prop
            if request and is_required(field):
                required.append(name)
        if properties:
            schema["properties"] = properties
        if required:
            schema["required"] = required
        oneofs = self._oneof_constraints(message, drop, request=request)
        if oneofs:
            schema["allOf"] = oneofs
        # No additionalProperties: false. The edge's transcoder drops JSON fields the message
        # does not define instead of refusing them (Envoy has no option to refuse them), and
        # the document says what the edge does.
        return schema

    def _oneof_constraints(
        self, message: descriptor_pb2.DescriptorProto, drop: frozenset[str], *, request: bool
    ) -> list[Schema]:
        """At most one member of each (real) oneof; exactly one when the oneof is required
        (request form only: a response sets what it sets)."""
        constraints: list[Schema] = []
        if not request:
            return constraints
        for index, oneof in enumerate(message.oneof_decl):
            members = [
                json_name(f)
                for f in message.field
                if f.HasField("oneof_index") and f.oneof_index == index and not f.proto3_optional
            ]
            if not members or any(f.name in drop for f in message.field if json_name(f) in members):
                continue
            if validate.oneof_required(oneof.options) and len(members) == 1:
                constraints.append({"required": members})
            elif validate.oneof_required(oneof.options):
                constraints.append({"oneOf": [{"required": [m]} for m in members]})
            elif len(members) == 2:
                constraints.append({"not": {"required": members}})
            elif len(members) > 2:
                pairs = [[a, b] for i, a in enumerate(members) for b in members[i + 1 :]]
                constraints.append({"not": {"anyOf": [{"required": pair} for pair in pairs]}})
        return constraints

    # ------------------------------------------------------------------ fields

    def field_schema(self, field: FieldProto, full_name: str, *, request: bool = False) -> Schema:
        rules = validate.field_rules(field.options) if request else None
        if self._is_map(field):
            entry = self.index.message(field.type_name).proto
            value = self.value_schema(entry.field[1], None, request=request)
            schema: Schema = {"type": "object", "additionalProperties": value}
            schema = validate.apply(schema, rules, zero=None)
        elif field.label == FieldProto.LABEL_REPEATED:
            items = self.value_schema(field, rules, request=request)
            schema = validate.apply({"type": "array", "items": items}, rules, zero=None)
        else:
            schema = self.value_schema(field, rules, request=request)
            if not has_presence(field) and validate.is_required(rules):
                schema = {**schema, **_non_zero(field, schema)}
            # An enum's zero is its UNSPECIFIED name; enum rules are applied by name above.
            zero = None if has_presence(field) else _ZERO.get(field.type)
            schema = validate.apply(schema, rules, zero=zero)
        description = self.index.comment(full_name)
        found = behaviors(field)
        if description:
            schema["description"] = description
        if "OUTPUT_ONLY" in found:
            schema["readOnly"] = True
        if "INPUT_ONLY" in found:
            schema["writeOnly"] = True
        if found:
            schema["x-field-behavior"] = found
        return schema

    def value_schema(self, field: FieldProto, rules: Any | None, *, request: bool = False) -> Schema:
        """The schema of one value of the field (an item, for repeated fields)."""
        if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_GROUP):
            return self.message_ref(field.type_name, request=request)
        if field.type == FieldProto.TYPE_ENUM:
            allowed, refused = validate.enum_filter(rules)
            if field.label != FieldProto.LABEL_REPEATED and not has_presence(field) and validate.is_required(rules):
                refused = {*refused, 0}
            return self.enum_schema(field.type_name, allowed, refused)
        return dict(_SCALARS[field.type])

    def enum_schema(
        self, type_name: str, allowed: set[int] | None = None, refused: frozenset[int] | set[int] = frozenset()
    ) -> Schema:
        """An enum by name: a component $ref, or an inline subset when rules narrow it."""
        info = self.index.enum(type_name)
        if allowed is None and not refused:
            if info.full_name not in self.components:
                self.components[info.full_name] = self._enum_component(info.full_name)
            return component_ref(info.full_name)
        names = [
            v.name for v in info.proto.value if (allowed is None or v.number in allowed) and v.number not in refused
        ]
        return {"type": "string", "enum": names}

    def _enum_component(self, full_name: str) -> Schema:
        info = self.index.enum(full_name)
        schema: Schema = {"type": "string", "enum": [v.name for v in info.proto.value]}
        lines = [self.index.comment(full_name)] if self.index.comment(full_name) else []
        for value in info.proto.value:
            text = self.index.comment(f"{full_name}.{value.name}")
            if text:
                lines.append(f"- `{value.name}`: {text}")
        if lines:
            schema["description"] = "\n".join(lines)
        return schema

    def _map_value_zero(self, field: FieldProto) -> Any:
        if not self._is_map(field):
            return None
        return nulls.zero_of(self.index.message(field.type_name).proto.field[1], is_map=False)

    def _is_map(self, field: FieldProto) -> bool:
        if field.type != FieldProto.TYPE_MESSAGE or field.label != FieldProto.LABEL_REPEATED:
            return False
        return bool(self.index.message(field.type_name).proto.options.map_entry)
