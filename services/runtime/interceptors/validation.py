"""Input validation: the protovalidate rules declared in the protos.

Runs after authentication and authorization, so callers without access learn
nothing about a method's input rules. Every violation is reported as a
google.rpc.BadRequest field violation addressed by its proto field path.

A valid request's UUIDs (fields with the ``string.uuid`` rule, which admits either case) are then
written in lower case, as the platform issues them: MariaDB compares ids without regard to case
and SQLite with it, and caches and comparisons in code would each decide differently; one
spelling per id leaves a single answer.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import protovalidate
from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.nesting import JSON_TYPES, too_deep

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall

_validator = protovalidate.Validator()


def field_path(violation: Any) -> str:
    """Renders a violation's field path as ``tenant.labels["key"]`` / ``items[2]``."""
    parts: list[str] = []
    for element in violation.proto.field.elements:
        part = element.field_name
        subscript = element.subscript  # a Oneof(field=..., value=...) or None
        if subscript is not None:
            value = subscript.value
            part += f"[{value}]" if subscript.field == "index" else f'["{value}"]'
        parts.append(part)
    return ".".join(parts)


@functools.cache
def _unruled_json_fields(descriptor: Descriptor) -> tuple[str, ...]:
    """The message's singular Struct, Value and ListValue fields that no rule can read: no options
    of their own, in no oneof, in a message with no options (no message-level rules)."""
    if descriptor.GetOptions().ByteSize():
        return ()
    return tuple(
        field.name
        for field in descriptor.fields
        if field.message_type is not None
        and field.message_type.full_name in JSON_TYPES
        and not field.is_repeated
        and field.containing_oneof is None
        and not field.GetOptions().ByteSize()
    )


def _rules_view(message: Any) -> Any:
    """``message`` without its free-form values that no rule reads (a copy; the message if it has
    none). Rules cannot be declared inside google.protobuf.Struct, so every violation is outside
    them, yet the validator walks each of their values: for a form's 30 answers, four fifths of
    its time."""
    present = [name for name in _unruled_json_fields(message.DESCRIPTOR) if message.HasField(name)]
    if not present:
        return message
    copy = type(message)()
    copy.MergeFrom(message)
    for name in present:
        copy.ClearField(name)
    return copy


def _is_uuid(field: FieldDescriptor) -> bool:
    """A string field ruled ``uuid`` (its items, when repeated)."""
    if field.type != FieldDescriptor.TYPE_STRING:
        return False
    rules: validate_pb2.FieldRules = field.GetOptions().Extensions[validate_pb2.field]  # type: ignore[index]
    return bool((rules.repeated.items.string if field.is_repeated else rules.string).uuid)


def _message_type(field: FieldDescriptor) -> Descriptor | None:
    """The message a field holds, but for maps (no map holds ids) and free-form JSON."""
    kind = field.message_type
    if kind is None or kind.GetOptions().map_entry or kind.full_name in JSON_TYPES:
        return None
    return kind


@functools.cache
def _keeps_uuids(descriptor: Descriptor) -> bool:
    """Whether the message, or one it may hold at any depth, has a UUID field (messages may hold
    themselves: a walk over the types, each seen once)."""
    seen: set[str] = set()
    pending = [descriptor]
    while pending:
        current = pending.pop()
        if current.full_name in seen:
            continue
        seen.add(current.full_name)
        for field in current.fields:
            if _is_uuid(field):
                return True
            held = _message_type(field)
            if held is not None:
                pending.append(held)
    return False


@functools.cache
def _uuid_fields(descriptor: Descriptor) -> tuple[tuple[str, bool, Descriptor | None], ...]:
    """Where the message keeps UUIDs: (field, repeated, None) for a UUID field, (field, repeated,
    type) for a message field whose type keeps some."""
    found: list[tuple[str, bool, Descriptor | None]] = []
    for field in descriptor.fields:
        held = _message_type(field)
        if _is_uuid(field):
            found.append((field.name, field.is_repeated, None))
        elif held is not None and _keeps_uuids(held):
            found.append((field.name, field.is_repeated, held))
    return tuple(found)


def lower_uuids(message: Any) -> None:
    """Writes the message's UUIDs in lower case (in place)."""
    for name, repeated, holder in _uuid_fields(message.DESCRIPTOR):
        if holder is not None:
            for child in getattr(message, name) if repeated else [getattr(message, name)]:
                lower_uuids(child)
        elif repeated:
            values = getattr(message, name)
            for index, value in enumerate(values):
                if value != value.lower():
                    values[index] = value.lower()
        else:
            value = getattr(message, name)
            if value != value.lower():
                setattr(message, name, value.lower())


def violations_of(message: Any) -> list[FieldViolation]:
    found = []
    for violation in _validator.collect_violations(_rules_view(message)):
        description = violation.proto.message or violation.proto.rule_id
        if violation.proto.for_key:
            description = f"key {description}"
        found.append(FieldViolation(field=field_path(violation), description=description))
    return found


async def validated_messages(requests: AsyncIterator[Message]) -> AsyncIterator[Message]:
    """The messages of a client stream, each checked as it arrives (INVALID_ARGUMENT at the first bad one)."""
    async for message in requests:
        violations = too_deep(message) or violations_of(message)
        if violations:
            raise InvalidArgument("the request has invalid fields", violations=violations)
        lower_uuids(message)
        yield message


async def validation_stage(call: IncomingCall) -> None:
    if call.request is None:
        return
    # Depth first: the rules below walk the values, and nothing deeper than the limit is read.
    violations = too_deep(call.request) or violations_of(call.request)
    if violations:
        raise InvalidArgument("the request has invalid fields", violations=violations)
    lower_uuids(call.request)
