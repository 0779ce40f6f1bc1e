"""JSON `null` in requests: the transcoder reads it as "not set" for every field (a scalar gets
its zero value, a message or map stays empty, an item of a list is dropped), so a request form
says so wherever that leaves the request valid: a property that is not required, whose zero
value its own rules accept, may be null; so may map values on the same terms and list items.
(schemathesis found the edge accepting `{"settings": {"k": null}}` the document called invalid.)
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2
from jsonschema import Draft202012Validator

FieldProto = descriptor_pb2.FieldDescriptorProto
Schema = dict[str, Any]

_NULL: Schema = {"type": "null"}
# Keywords that describe a property rather than constrain its value: they stay outside the anyOf.
_ANNOTATIONS = ("description", "readOnly", "writeOnly", "x-field-behavior")

_SCALAR_ZERO: dict[int, Any] = {
    FieldProto.TYPE_STRING: "",
    FieldProto.TYPE_BYTES: "",
    FieldProto.TYPE_BOOL: False,
    FieldProto.TYPE_DOUBLE: 0,
    FieldProto.TYPE_FLOAT: 0,
    FieldProto.TYPE_INT32: 0,
    FieldProto.TYPE_SINT32: 0,
    FieldProto.TYPE_SFIXED32: 0,
    FieldProto.TYPE_UINT32: 0,
    FieldProto.TYPE_FIXED32: 0,
    FieldProto.TYPE_INT64: "0",
    FieldProto.TYPE_SINT64: "0",
    FieldProto.TYPE_SFIXED64: "0",
    FieldProto.TYPE_UINT64: "0",
    FieldProto.TYPE_FIXED64: "0",
}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null, its annotations kept outside."""
    if schema is False or schema.get("anyOf", [None])[-1] == _NULL:  # type: ignore[comparison-overlap]
        return schema
    annotations = {k: v for k, v in schema.items() if k in _ANNOTATIONS}
    value = {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
    return {**annotations, "anyOf": [value, _NULL]}


def accepts_zero(schema: Schema, zero: Any) -> bool:
    """Whether the value ``zero`` meets ``schema``. A $ref (a message, or an enum with every
    value) always does: an unset message is valid, and an enum's zero is one of its names."""
    if "$ref" in schema or zero is _UNSET:
        return True
    return bool(Draft202012Validator(schema).is_valid(zero))


_UNSET = object()


def zero_of(field: FieldProto, *, is_map: bool) -> Any:
    """The JSON a null becomes for ``field`` (``_UNSET`` for a message: it stays unset)."""
    if is_map:
        return {}
    if field.label == FieldProto.LABEL_REPEATED:
        return []
    if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_GROUP):
        return _UNSET
    if field.type == FieldProto.TYPE_ENUM:
        return _UNSET  # checked by name where rules narrow the enum (see request_property)
    return _SCALAR_ZERO[field.type]


def request_property(schema: Schema, field: FieldProto, *, required: bool, is_map: bool, map_value: Any) -> Schema:
    """The request form of one property, with null allowed where the edge makes it harmless."""
    if schema is False:  # type: ignore[comparison-overlap]
        return schema
    if is_map and isinstance(schema.get("additionalProperties"), dict):
        values = schema["additionalProperties"]
        if accepts_zero(values, map_value):
            schema = {**schema, "additionalProperties": nullable(values)}
    elif field.label == FieldProto.LABEL_REPEATED and isinstance(schema.get("items"), dict):
        schema = {**schema, "items": nullable(schema["items"])}  # a null item is dropped
    if required:
        return schema
    zero = zero_of(field, is_map=is_map)
    if field.type == FieldProto.TYPE_ENUM and field.label != FieldProto.LABEL_REPEATED and "enum" in schema:
        # An enum narrowed by its rules: null is its zero value, allowed only if still listed.
        if not any(name.endswith("_UNSPECIFIED") for name in schema["enum"]):
            return schema
    elif not accepts_zero(_without_annotations(schema), zero):
        return schema
    return nullable(schema)


def _without_annotations(schema: Schema) -> Schema:
    return {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
