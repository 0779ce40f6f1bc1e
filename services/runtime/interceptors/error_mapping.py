"""Error mapping: domain errors become gRPC statuses with google.rpc details.

Anything that is not a :class:`TenantmeshError` is a bug: it is logged with
the request id and answered as INTERNAL without internals, so stack traces,
SQL or file paths never reach a caller.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NoReturn

import grpc

from services.runtime.context import request_id_var
from services.runtime.errors import ErrorDescription, TenantmeshError, describe
from services.runtime.rich_status import trailing_metadata

log = logging.getLogger("tenantmesh.errors")

# Control flow, not errors: let them through untouched.
_PASS_THROUGH = (asyncio.CancelledError, grpc.aio.AbortError, GeneratorExit, KeyboardInterrupt, SystemExit)


def error_for(exc: BaseException, method: str) -> ErrorDescription | None:
    """The status to answer ``exc`` with, or None when it must propagate as is."""
    if isinstance(exc, _PASS_THROUGH):
        return None
    if isinstance(exc, TenantmeshError):
        error = describe(exc)
        if error.code == grpc.StatusCode.INTERNAL:
            log.error("internal error in %s: %s", method, error.reason, extra={"method": method})
        return error
    log.error("unhandled error in %s", method, exc_info=exc, extra={"method": method})
    return ErrorDescription(
        code=grpc.StatusCode.INTERNAL,
        reason="INTERNAL",
        message=f"internal error; quote request id {request_id_var.get()} when reporting it",
    )


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: ErrorDescription) -> NoReturn:
    # The request id rides in the trailers too: a failed call may never have
    # sent its initial metadata.
    trailers: tuple[tuple[str, str | bytes], ...] = (
        *trailing_metadata(error),
        ("x-request-id", request_id_var.get()),
    )
    await context.abort(error.code, error.message, trailing_metadata=trailers)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
