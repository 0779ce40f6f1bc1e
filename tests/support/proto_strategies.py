"""Hypothesis strategies for any protobuf request, built from its descriptor.

Each field is set or left out; values mix the hostile (any text, out-of-range numbers and
enum values, NaN, huge timestamps, deep structs) with values that satisfy the field's
protovalidate rules (a uuid for a uuid field, a match of its pattern), so calls get past
validation into the handlers as well as being refused by it.
"""

from __future__ import annotations

import string
from typing import Any

from buf.validate import validate_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

_FIELD_RULES: Any = validate_pb2.field
_MAX_DEPTH = 3
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def _rules(field: FieldDescriptor) -> Any | None:
    options = field.GetOptions()
    return options.Extensions[_FIELD_RULES] if options.HasExtension(_FIELD_RULES) else None


def _python_pattern(pattern: str) -> str:
    # RE2 and Python agree on the patterns the protos use; \z is RE2's end of text.
    return pattern.replace("\\z", "\\Z")


def _string(field: FieldDescriptor) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = [
        st.text(max_size=40),
        st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12),
        st.just(""),
    ]
    rules = _rules(field)
    typed = None
    if rules is not None:
        kind = rules.WhichOneof("type")
        typed = rules.string if kind == "string" else rules.repeated.items.string if kind == "repeated" else None
    if typed is not None:
        if typed.uuid:
            options.append(st.uuids().map(str))
        if typed.email:
            options.append(st.emails())
        if typed.pattern:
            options.append(st.from_regex(_python_pattern(typed.pattern), fullmatch=True))
        if typed.HasField("max_len"):
            options.append(st.text(min_size=typed.max_len, max_size=typed.max_len + 2))
    elif "id" in field.name.split("_"):
        options.append(st.uuids().map(str))
    return st.one_of(options)


def _scalar(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _string(field)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return st.one_of(st.integers(-5, 100), st.integers(*_INT32))
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
        return st.integers(*_INT64)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if kind == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        numbers = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.integers(-3, 50))
    if kind == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None
        return messages(field.message_type, depth + 1)
    raise ValueError(f"unsupported field type {kind} of {field.full_name}")


def _well_known(descriptor: Descriptor) -> st.SearchStrategy[Message] | None:
    cls = message_factory.GetMessageClass(descriptor)
    name = descriptor.full_name
    if name == "google.protobuf.Timestamp":
        # Past and beyond the range protobuf allows (year 1 .. 9999).
        return st.builds(cls, seconds=st.integers(-(2**40), 2**40), nanos=st.integers(0, 10**9 - 1))
    if name == "google.protobuf.Duration":
        return st.builds(cls, seconds=st.integers(-(2**40), 2**40))
    if name == "google.protobuf.Struct":

        def struct(value: dict[str, Any]) -> Message:
            message = cls()
            message.update(value)  # type: ignore[attr-defined]  # a Struct
            return message

        return st.dictionaries(st.text(max_size=10), json_values, max_size=4).map(struct)
    if name == "google.protobuf.FieldMask":
        path = st.one_of(st.text(max_size=15), st.from_regex(r"[a-z][a-z_]{0,14}", fullmatch=True))
        return st.lists(path, max_size=3).map(lambda paths: cls(paths=paths))
    if name == "google.protobuf.Any":
        return st.just(cls())
    return None


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Messages of ``descriptor``'s type; nested messages stop at a small depth."""
    special = _well_known(descriptor)
    if special is not None:
        return special
    cls = message_factory.GetMessageClass(descriptor)
    if depth >= _MAX_DEPTH:
        return st.just(cls())
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = (
                field.message_type.fields_by_name["key"],
                field.message_type.fields_by_name["value"],
            )
            fields[field.name] = st.dictionaries(_scalar(key_field, depth), _scalar(value_field, depth), max_size=4)
        elif field.is_repeated:
            fields[field.name] = st.lists(_scalar(field, depth), max_size=4)
        else:
            fields[field.name] = _scalar(field, depth)

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        message = cls()
        for name, strategy in fields.items():
            if not draw(st.booleans()):
                continue
            _assign(message, descriptor.fields_by_name[name], draw(strategy))
        return message

    return build()


def _assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        for key, item in value.items():
            if value_field.message_type is not None:
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif field.is_repeated:
        if field.message_type is not None:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.message_type is not None:
        target.CopyFrom(value)
    else:
        setattr(message, field.name, value)
