"""JSON documents carried in google.protobuf.Struct fields, and the paths that address inside them.

Services that take JSON documents (a registry service's config, a form's definition and answers)
read them the same way and report each problem at the request field followed by the JSON path
inside the document (``config.limits[0].max``, ``answers.items[1].qty``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import struct_pb2

from services.runtime.errors import FieldViolation, InvalidArgument

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(base: str, parts: Iterable[str | int]) -> str:
    """``base`` followed by ``.key``, ``["odd key"]`` and ``[index]`` parts."""
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def pointer_parts(pointer: str) -> list[str | int]:
    """The parts of a JSON Pointer (RFC 6901), array indices as ints: "/items/0/qty" → ["items", 0, "qty"]."""
    if not pointer:
        return []
    parts: list[str | int] = []
    for token in pointer.split("/")[1:]:
        text = token.replace("~1", "/").replace("~0", "~")
        parts.append(int(text) if text.isdigit() and (text == "0" or not text.startswith("0")) else text)
    return parts


def _json_value(value: struct_pb2.Value) -> Any:
    """A Struct value as JSON, read straight from the message (half the cost of
    ``json_format.MessageToDict``'s generic walk). A Struct holds only doubles: whole numbers
    become ints again. An unset value reads as null, as in ProtoJSON."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if math.isinf(number) or math.isnan(number):
            raise ValueError("a number JSON cannot represent")
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: _json_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_json_value(item) for item in value.list_value.values]
    return None  # null_value, or no kind set


def struct_to_dict(struct: struct_pb2.Struct, field: str) -> dict[str, Any]:
    """The JSON document a caller's Struct holds (``field`` names it in errors). A Struct can
    carry numbers JSON cannot (NaN, +-Infinity; only gRPC callers can send them): they are
    invalid input, not a failure of the call."""
    try:
        return {key: _json_value(item) for key, item in struct.fields.items()}
    except ValueError:
        violation = FieldViolation(field, "holds a number JSON cannot represent (NaN or Infinity)")
        raise InvalidArgument(f"{field} is not a JSON document", violations=[violation]) from None


def dict_to_struct(document: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(document))
    return struct
