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

STATUS_DETAILS_KEY = "grpc-status-details-bin"
_Detail = TypeVar("_Detail", error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo)


def to_status_proto(error: ErrorDescription) -> status_pb2.Status:
    details: list[any_pb2.Any] = []
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    details.append(_pack(info))
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description, reason=v.reason)
                for v in error.violations
            ]
        )
        details.append(_pack(bad_request))
    if error.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(error.retry_after * 1000))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


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
