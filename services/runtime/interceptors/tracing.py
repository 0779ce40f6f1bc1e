"""Tracing: completes the server span the grpc.aio instrumentation opened for the call.

The instrumentation knows the method and the peer; the runtime knows who called, for which
tenant, under which request id, and how the call really ended (the instrumentation records a
cancelled call, a deadline or an uncaught error as OK). Only identifiers go on the span: the
principal's *kind*, never its token, name or email.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.runtime.context import principal_var, request_id_var, tenant_var

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall

# The codes that mean the server failed (RPC semantic conventions); the others are the caller's.
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def principal_kind() -> str:
    """ "user", "service-account", "service", or "anonymous" (the subject's prefix, never its id)."""
    principal = principal_var.get()
    if principal is None:
        return "anonymous"
    kind, _, _ = principal.subject.partition(":")
    return kind or "unknown"


class SpanObserver:
    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        span.set_attribute("tenantmesh.request_id", request_id_var.get())
        span.set_attribute("tenantmesh.principal.kind", principal_kind())
        tenant = tenant_var.get()
        if tenant is not None:
            span.set_attribute("tenantmesh.tenant_id", tenant.tenant_id)
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in SERVER_ERRORS:
            span.set_status(Status(StatusCode.ERROR, code.name))
