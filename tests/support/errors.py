"""Reading the google.rpc.Status a failed call carries in its ``grpc-status-details-bin`` trailer.

Tests assert on the status code and the ErrorInfo reason (the stable contract),
never on the human-readable message.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"
ERROR_DOMAIN = "tenantmesh.dev"


def trailer(error: grpc.aio.AioRpcError, key: str) -> str | bytes | None:
    for name, value in error.trailing_metadata() or ():
        if name == key:
            return value
    return None


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The rich status of a failed call; fails the test when the trailer is missing."""
    raw = trailer(error, STATUS_DETAILS_KEY)
    assert isinstance(raw, bytes), f"no {STATUS_DETAILS_KEY} trailer on {error.code()}"
    status = status_pb2.Status.FromString(raw)
    assert status.code == error.code().value[0], "rich status code differs from the call's status code"
    return status


def _details(error: grpc.aio.AioRpcError, kind: type[Any]) -> list[Any]:
    found = []
    for detail in status_of(error).details:
        message = kind()
        if detail.Unpack(message):
            found.append(message)
    return found


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    infos = _details(error, error_details_pb2.ErrorInfo)
    assert len(infos) == 1, f"expected exactly one ErrorInfo, got {len(infos)}"
    info: error_details_pb2.ErrorInfo = infos[0]
    return info


def reason_of(error: grpc.aio.AioRpcError) -> str:
    return str(error_info(error).reason)


def violations(error: grpc.aio.AioRpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    return [v for bad_request in _details(error, error_details_pb2.BadRequest) for v in bad_request.field_violations]


def violation_fields(error: grpc.aio.AioRpcError) -> set[str]:
    return {str(v.field) for v in violations(error)}


def retry_info(error: grpc.aio.AioRpcError) -> error_details_pb2.RetryInfo | None:
    infos = _details(error, error_details_pb2.RetryInfo)
    return infos[0] if infos else None


def assert_error(error: grpc.aio.AioRpcError, code: grpc.StatusCode, reason: str) -> error_details_pb2.ErrorInfo:
    """Checks code, reason and domain; returns the ErrorInfo for further checks (metadata)."""
    assert error.code() == code, f"expected {code.name}, got {error.code().name}"
    info = error_info(error)
    assert info.domain == ERROR_DOMAIN
    assert info.reason == reason
    return info


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode, reason: str) -> grpc.aio.AioRpcError:
    """Awaits a call that must fail with ``code`` and ErrorInfo ``reason``; returns the error."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert_error(caught.value, code, reason)
    return caught.value


async def expect_same_refusal(
    foreign: Awaitable[Any], unknown: Awaitable[Any], code: grpc.StatusCode, reason: str
) -> None:
    """A call naming another tenant's resource must fail exactly as one naming a resource that never
    existed (code, message and every detail), so the answer reveals nothing about what exists elsewhere."""
    refused = await expect_error(foreign, code, reason)
    absent = await expect_error(unknown, code, reason)
    assert (refused.details(), status_of(refused)) == (absent.details(), status_of(absent))
