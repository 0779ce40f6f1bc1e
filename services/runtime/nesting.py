"""How deep a request's JSON-like values (google.protobuf.Struct, Value, ListValue) may nest.

Free-form values are the only part of a request whose depth the proto does not bound. The
protobuf parser gives up at 100 message levels (about 33 levels of JSON objects, since each
object is a Struct, a map entry and a Value), which the runtime answers as a malformed
request; below that, anything deeper than :data:`MAX_VALUE_DEPTH` objects or arrays is
refused at its field, so the limit callers meet is one documented number and not the parser's.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from services.runtime.errors import FieldViolation

MAX_VALUE_DEPTH = 32

_STRUCT = "google.protobuf.Struct"
_LIST = "google.protobuf.ListValue"
_VALUE = "google.protobuf.Value"
JSON_TYPES = frozenset({_STRUCT, _LIST, _VALUE})


@functools.cache
def _holds_json(descriptor: Descriptor) -> bool:
    """Whether a message of this type can contain a Struct, Value or ListValue anywhere."""
    return _reaches_json(descriptor, frozenset())


def _reaches_json(descriptor: Descriptor, seen: frozenset[str]) -> bool:
    if descriptor.full_name in JSON_TYPES:
        return True
    if descriptor.full_name in seen:
        return False
    seen = seen | {descriptor.full_name}
    return any(
        field.message_type is not None and _reaches_json(field.message_type, seen) for field in descriptor.fields
    )


def _value_depth(value: Message) -> int:
    """Levels of objects and arrays in a Struct, ListValue or Value (a scalar is 0)."""
    name = value.DESCRIPTOR.full_name
    if name == _STRUCT:
        return _items_depth(value.fields.values())  # type: ignore[attr-defined]
    if name == _LIST:
        return _items_depth(value.values)  # type: ignore[attr-defined]
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _items_depth(value.struct_value.fields.values())  # type: ignore[attr-defined]
    if kind == "list_value":
        return _items_depth(value.list_value.values)  # type: ignore[attr-defined]
    return 0


def _items_depth(items: Iterable[Any]) -> int:
    """1 + the deepest of an object's or array's Values. Only containers are descended into: most
    answers are scalars, and asking each one for its kind alone is a request's cheapest walk."""
    deepest = 0
    for item in items:
        kind = item.WhichOneof("kind")
        if kind == "struct_value":
            depth = _items_depth(item.struct_value.fields.values())
        elif kind == "list_value":
            depth = _items_depth(item.list_value.values)
        else:
            continue
        deepest = max(deepest, depth)
    return 1 + deepest


def too_deep(message: Message, limit: int = MAX_VALUE_DEPTH, prefix: str = "") -> list[FieldViolation]:
    """A violation for each free-form value of ``message`` nested deeper than ``limit``."""
    if not _holds_json(message.DESCRIPTOR):
        return []
    found: list[FieldViolation] = []
    for field, value in message.ListFields():
        if field.message_type is None or not _holds_json(field.message_type):
            continue
        path = f"{prefix}{field.name}"
        items = _items(field, value)
        for key, item in items:
            item_path = f"{path}{key}"
            if item.DESCRIPTOR.full_name in JSON_TYPES:
                if _value_depth(item) > limit:
                    found.append(
                        FieldViolation(field=item_path, description=f"nested deeper than {limit} objects or arrays")
                    )
            else:
                found.extend(too_deep(item, limit, f"{item_path}."))
    return found


def _items(field: FieldDescriptor, value: object) -> list[tuple[str, Message]]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return [(f'["{key}"]', item) for key, item in value.items()]  # type: ignore[attr-defined]
    if field.is_repeated:
        items: list[Message] = list(value)  # type: ignore[call-overload]
        return [(f"[{index}]", item) for index, item in enumerate(items)]
    return [("", value)]  # type: ignore[list-item]
