"""Error mapping: domain errors become gRPC statuses with google.rpc details.

A platform service this call depends on that cannot be reached (UNAVAILABLE or
DEADLINE_EXCEEDED from a call the handler made) is not a bug: the caller gets
UNAVAILABLE (reason DEPENDENCY_UNAVAILABLE), which it may retry, and the log
gets one warning line. The database being unreachable or a transaction colliding with
another is not a bug either (services/runtime/db/failures.py). Anything else that is not a :class:`TenantmeshError` is
a bug: it is logged with the request id and answered as INTERNAL without
internals, so stack traces, SQL or file paths never reach a caller.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NoReturn

import grpc

from services.runtime.context import request_id_var
from services.runtime.db.failures import database_failure
from services.runtime.errors import CommonReason, ErrorDescription, TenantmeshError, describe
from services.runtime.rest_names import came_through_transcoder, for_rest_caller
from services.runtime.rich_status import status_message, trailing_metadata

log = logging.getLogger("tenantmesh.errors")

# Control flow, not errors: let them through untouched.
_PASS_THROUGH = (asyncio.CancelledError, grpc.aio.AbortError, GeneratorExit, KeyboardInterrupt, SystemExit)
# What a call to another service ends with when that service is down or too slow.
_DEPENDENCY_DOWN = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def error_for(exc: BaseException, method: str) -> ErrorDescription | None:
    """The status to answer ``exc`` with, or None when it must propagate as is."""
    if isinstance(exc, _PASS_THROUGH):
        return None
    if isinstance(exc, TenantmeshError):
        error = describe(exc)
        if error.code == grpc.StatusCode.INTERNAL:
            log.error("internal error in %s: %s", method, error.reason, extra={"method": method})
        return error
    if isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _DEPENDENCY_DOWN:
        log.warning(
            "%s: a service it calls answered %s: %s", method, exc.code().name, exc.details(), extra={"method": method}
        )
        return ErrorDescription(
            code=grpc.StatusCode.UNAVAILABLE,
            reason=CommonReason.DEPENDENCY_UNAVAILABLE,
            message="a service this call depends on is unavailable; try again shortly",
        )
    failure = database_failure(exc)
    if failure is not None:
        log.warning("%s: %s (%s)", method, failure.message, type(exc).__name__, extra={"method": method})
        return failure
    log.error("unhandled error in %s", method, exc_info=exc, extra={"method": method})
    return ErrorDescription(
        code=grpc.StatusCode.INTERNAL,
        reason=CommonReason.INTERNAL,
        message=f"internal error; quote request id {request_id_var.get()} when reporting it",
    )


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: ErrorDescription, method: str = "") -> NoReturn:
    # The request id rides in the trailers, where a unary call returns it anyway;
    # a stream that fails may never have sent its headers. abort() replaces any
    # trailers set before, so it is added here again.
    if error.violations and method and came_through_transcoder(_text_metadata(context)):
        error = for_rest_caller(error, method)
    trailers: tuple[tuple[str, str | bytes], ...] = (
        *trailing_metadata(error),
        ("x-request-id", request_id_var.get()),
    )
    await context.abort(error.code, status_message(error), trailing_metadata=trailers)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def _text_metadata(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    return {key.lower(): value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
