"""Tracing: the server span of every call, opened and closed by the runtime's own pipeline.

The pipeline already holds what a server span needs (the method, the metadata as a dict, how the
call ended, who called and for which tenant), so the span costs a sampler decision, a span
object and an ``end()``: no second interceptor re-wrapping the handler on every call, no
metadata copied again, no proxy around the servicer context (docs/decisions.md, Observability,
has the numbers that led here). Only identifiers go on the span: the principal's *kind*, never
its token, name or email.

A call whose trace is not sampled — its caller sent ``traceparent`` flags 00, as the edge does
for most requests, or this process's sampler dropped a new trace — gets no span object at all:
the SQL, Redis and outgoing-call instrumentations are switched off for the rest of the call
(their spans could only be non-recording ones), and the decision travels on in the
``traceparent`` passed to the next service, so every hop agrees without recording anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import grpc
from opentelemetry.semconv._incubating.attributes.rpc_attributes import (
    RPC_GRPC_STATUS_CODE,
    RPC_METHOD,
    RPC_SERVICE,
    RPC_SYSTEM,
)
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services.runtime.context import principal_var, request_id_var, tenant_var, traceparent_var
from services.runtime.telemetry.call_context import enter_span, suppress_instrumentation
from services.runtime.telemetry.lean_spans import LeanSpan, LeanTracer
from services.runtime.telemetry.trace_context import format_traceparent, parse_traceparent

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
# By the codes' numbers: a grpc.StatusCode hashes in Python (Enum.__hash__), an int in C.
_SERVER_ERROR_NUMBERS = frozenset(code.value[0] for code in SERVER_ERRORS)
_W3C = TraceContextTextMapPropagator()
_TRACEPARENT_LENGTH = len("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
# W3C Trace Context asks a platform to pass on at least 512 characters of trace state. A longer
# one (it comes from outside, through the edge) is dropped unread: the propagator would log each
# malformed member of it in full, a caller-sized warning on every call.
TRACESTATE_LIMIT = 512


class ServerSpanStage:
    """The last of the first stages: opens the call's server span, or switches tracing off for it."""

    def __init__(self, tracer: LeanTracer) -> None:
        self._tracer = tracer
        # Per method, built once: the span copies them, so one dict serves every call.
        self._attributes: dict[str, dict[str, str]] = {}

    def _attributes_of(self, method: str) -> dict[str, str]:
        attributes = self._attributes.get(method)
        if attributes is None:
            service, _, name = method.lstrip("/").partition("/")
            attributes = self._attributes[method] = {RPC_SYSTEM: "grpc", RPC_SERVICE: service, RPC_METHOD: name}
        return attributes

    async def __call__(self, call: IncomingCall) -> None:
        metadata = call.metadata
        traceparent = metadata.get("traceparent", "")
        if traceparent.endswith("-00"):
            suppress_instrumentation()
            return
        attributes = self._attributes_of(call.method)
        # A version 00 traceparent with no or an empty tracestate (what Envoy and the services
        # send: Envoy's tracer always adds the header, empty) is read directly; the W3C
        # propagator, which reads every case, costs about as much again as the rest of a sampled
        # call's span work. An empty trace state is no trace state to the propagator too.
        if (
            len(traceparent) == _TRACEPARENT_LENGTH
            and not metadata.get("tracestate")
            and (parent := parse_traceparent(traceparent)) is not None
        ):
            span = self._tracer.start_server_span(call.method, parent, attributes)
        elif not traceparent:
            span = self._tracer.start_server_span(call.method, None, attributes)
        else:  # another version, a trace state, or invalid: as the W3C propagator reads it
            span = self._tracer.start_span(
                call.method, context=_W3C.extract(_trace_headers(metadata)), kind=SpanKind.SERVER, attributes=attributes
            )
        if not isinstance(span, LeanSpan):
            # Not recording: a new trace this process's sampler dropped. Say so to the services below.
            traceparent_var.set(format_traceparent(span.get_span_context()))
            suppress_instrumentation()
            return
        call.span = span
        enter_span(span)


def _trace_headers(metadata: Mapping[str, str]) -> Mapping[str, str]:
    """The call's trace context as the W3C propagator may read it: without an oversized trace state."""
    if len(metadata.get("tracestate", "")) > TRACESTATE_LIMIT:
        return {"traceparent": metadata.get("traceparent", "")}
    return metadata


class SpanObserver:
    """Completes and ends the server span: who called, for which tenant, how the call ended."""

    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        span = call.span
        if span is None:
            return
        number: int = code._value_[0]  # the member's (number, name): .value is a descriptor call
        principal = principal_var.get()
        attributes: dict[str, str | int] = {
            "tenantmesh.request_id": request_id_var.get(),
            # The subject's prefix (user, service-account, service), never its id.
            "tenantmesh.principal.kind": (principal.subject.partition(":")[0] or "unknown")
            if principal is not None
            else "anonymous",
            RPC_GRPC_STATUS_CODE: number,
        }
        tenant = tenant_var.get()
        if tenant is not None:
            attributes["tenantmesh.tenant_id"] = tenant.tenant_id
        # Plain strings and integers of our own: nothing for the span to clean.
        span.set_plain_attributes(attributes)
        if number in _SERVER_ERROR_NUMBERS:
            span.set_status(Status(StatusCode.ERROR, code.name))
        span.end()
