"""Request bytes that are not a message of the method's input type.

grpc.aio answers a deserializer that raises with UNKNOWN and logs a traceback per call;
a malformed body is the caller's mistake. The runtime wraps every method's deserializer
(:func:`tolerant_deserializer`), so the handler chain gets :data:`UNDECODABLE` instead and
answers INVALID_ARGUMENT / REQUEST_MALFORMED before authentication — nothing about the
caller is needed to say the bytes are not a message. In a client stream the message that
does not decode ends the call the same way when the handler reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.runtime.errors import CommonReason, InvalidArgument


class Undecodable:
    """Stands in for a request whose bytes are not a message of the method's input type."""

    __slots__ = ()


UNDECODABLE = Undecodable()


def tolerant_deserializer(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # DecodeError, nesting beyond the parser's recursion limit, bad UTF-8, ...
            return UNDECODABLE

    return deserialize


def refuse_undecodable() -> InvalidArgument:
    # The message names no type or parser: callers learn nothing about the server's internals.
    return InvalidArgument(
        "the request body is not a valid protobuf message for this method",
        reason=CommonReason.REQUEST_MALFORMED,
    )
