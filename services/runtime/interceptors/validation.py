"""Input validation: the protovalidate rules declared in the protos.

Runs after authentication and authorization, so callers without access learn
nothing about a method's input rules. Every violation is reported as a
google.rpc.BadRequest field violation addressed by its proto field path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import protovalidate
from google.protobuf.message import Message

from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.nesting import too_deep

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


def violations_of(message: Any) -> list[FieldViolation]:
    found = []
    for violation in _validator.collect_violations(message):
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
