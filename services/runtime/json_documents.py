"""JSON documents carried in google.protobuf.Struct fields, and the paths that address inside them.

Services that take JSON documents (a registry service's config, a form's definition and answers)
read them the same way and report each problem at the request field followed by the JSON path
inside the document (``config.limits[0].max``, ``answers.items[1].qty``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

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


def normalise(value: Any) -> Any:
    """JSON from a google.protobuf.Struct has only floats; whole numbers become ints again."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def struct_to_dict(struct: struct_pb2.Struct, field: str) -> dict[str, Any]:
    """The JSON document a caller's Struct holds (``field`` names it in errors). A Struct can
    carry numbers JSON cannot (NaN, +-Infinity; only gRPC callers can send them): they are
    invalid input, not a failure of the call."""
    try:
        document: dict[str, Any] = normalise(json_format.MessageToDict(struct))
    except ValueError:
        violation = FieldViolation(field, "holds a number JSON cannot represent (NaN or Infinity)")
        raise InvalidArgument(f"{field} is not a JSON document", violations=[violation]) from None
    return document


def dict_to_struct(document: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(document))
    return struct
