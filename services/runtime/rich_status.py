"""google.rpc.Status encoding for gRPC errors (AIP-193).

The status travels in the ``grpc-status-details-bin`` trailer, which Envoy's
transcoder turns into the JSON body REST callers see.
"""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from services.runtime.errors import ERROR_DOMAIN, ErrorDescription, TenantmeshError

_Detail = TypeVar("_Detail", error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo)


STATUS_DETAILS_KEY = "grpc-status-details-bin"
# The status travels in one trailer, and trailers are bounded: gRPC clients refuse received
# metadata past 8 KiB by default, and Envoy resets a stream whose headers pass its limit (a REST
# caller then sees 502). A request with many invalid items gets the violations that fit in this
# many bytes, in order, and ErrorInfo's metadata says how many more there were.
MAX_VIOLATION_BYTES = 4096
VIOLATIONS_OMITTED = "violations_omitted"
# Texts can carry what the caller sent (an answer's key becomes a violation's field): each is cut
# to these many bytes, so that the message and the first violation always fit in
# MAX_VIOLATION_BYTES (the message also travels as grpc-message, percent-encoded).
MAX_MESSAGE_BYTES = 512
MAX_TEXT_BYTES = 512
_CUT = "\u2026"  # an ellipsis ends a cut text


def truncated(text: str, limit: int) -> str:
    """``text`` if its UTF-8 is at most ``limit`` bytes, else its longest prefix that fits with an
    ellipsis after it (cut between characters, never inside one)."""
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= limit:
        return text
    room = limit - len(_CUT.encode())
    # Dropping the bytes of a character cut in two leaves whole characters only.
    return encoded[:room].decode("utf-8", "ignore") + _CUT


def status_message(error: ErrorDescription) -> str:
    """The status message as it is sent (in the rich status and as grpc-message)."""
    return truncated(error.message, MAX_MESSAGE_BYTES)


def _bounded_violations(
    error: ErrorDescription, budget: int
) -> tuple[list[error_details_pb2.BadRequest.FieldViolation], int]:
    """The field violations (texts cut to MAX_TEXT_BYTES) that fit in ``budget`` bytes (at least the
    first), and how many were left out."""
    kept: list[error_details_pb2.BadRequest.FieldViolation] = []
    size = 0
    for violation in error.violations:
        message = error_details_pb2.BadRequest.FieldViolation(
            field=truncated(violation.field, MAX_TEXT_BYTES),
            description=truncated(violation.description, MAX_TEXT_BYTES),
            reason=violation.reason,
        )
        size += message.ByteSize() + 4  # its tag and length prefix, at most
        if kept and size > budget:
            break
        kept.append(message)
    return kept, len(error.violations) - len(kept)


def to_status_proto(error: ErrorDescription) -> status_pb2.Status:
    details: list[any_pb2.Any] = []
    message = status_message(error)
    violations, omitted = _bounded_violations(error, MAX_VIOLATION_BYTES - len(message.encode()))
    metadata = dict(error.metadata)
    if omitted:
        metadata[VIOLATIONS_OMITTED] = str(omitted)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)
    details.append(_pack(info))
    if violations:
        details.append(_pack(error_details_pb2.BadRequest(field_violations=violations)))
    if error.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(error.retry_after * 1000))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=error.code.value[0], message=message, details=details)


def trailing_metadata(error: ErrorDescription) -> tuple[tuple[str, bytes], ...]:
    return ((STATUS_DETAILS_KEY, to_status_proto(error).SerializeToString()),)


def _pack(
    message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest | error_details_pb2.RetryInfo,
) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def details_of(error: grpc.aio.AioRpcError, kind: type[_Detail]) -> list[_Detail]:
    """The details of type ``kind`` in a failed outgoing call's rich status (none without one)."""
    found: list[_Detail] = []
    for key, value in error.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            for detail in status_pb2.Status.FromString(value).details:
                message = kind()
                if detail.Unpack(message):
                    found.append(message)
    return found


def reason_of(error: Exception) -> str:
    """The ErrorInfo reason of a failed outgoing call (or of a domain error), for records and logs."""
    if isinstance(error, TenantmeshError):
        return error.reason
    if isinstance(error, grpc.aio.AioRpcError):
        infos = details_of(error, error_details_pb2.ErrorInfo)
        return str(infos[0].reason) if infos else f"RPC_{error.code().name}"
    return "INTERNAL"
