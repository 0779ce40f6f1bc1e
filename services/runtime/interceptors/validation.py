"""Input validation: the protovalidate rules declared in the protos.

Runs after authentication and authorization, so callers without access learn
nothing about a method's input rules. Every violation is reported as a
google.rpc.BadRequest field violation addressed by its proto field path.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import protovalidate
from google.protobuf.descriptor import Descriptor
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
        yield message


async def validation_stage(call: IncomingCall) -> None:
    if call.request is None:
        return
    # Depth first: the rules below walk the values, and nothing deeper than the limit is read.
    violations = too_deep(call.request) or violations_of(call.request)
    if violations:
        raise InvalidArgument("the request has invalid fields", violations=violations)
