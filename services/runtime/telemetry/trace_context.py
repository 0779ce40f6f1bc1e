"""W3C trace context of the current call, as text: for events, outgoing metadata and logs.

With tracing on, the current span is the truth. With tracing off the runtime still keeps the
caller's ``traceparent`` (``traceparent_var``) and passes it on untouched, so a trace begun by
Envoy or a client continues through a process that does not record spans itself.
"""

from __future__ import annotations

import re

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState

from services.runtime.context import traceparent_var

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# Every flags byte a traceparent can carry, made once.
_TRACE_FLAGS = tuple(TraceFlags(value) for value in range(256))
_new_tuple = tuple.__new__


def valid_span_context(
    trace_id: int, span_id: int, is_remote: bool, trace_flags: TraceFlags, trace_state: TraceState
) -> SpanContext:
    """``SpanContext(...)`` for ids already known to be valid (non-zero and in range), as a
    traced call's ids are: the API's constructor is a tuple whose last item says whether both ids
    are in range, checked in Python on every call (a tenth of what a sampled call's span costs).
    The tuple is built here directly; tests/unit/test_telemetry_settings.py checks it equals
    the constructor's for the installed API."""
    return _new_tuple(SpanContext, (trace_id, span_id, is_remote, trace_flags, trace_state, True))


def format_traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def parse_traceparent(value: str) -> SpanContext | None:
    """The remote span context a version 00 ``traceparent`` carries (any case, surrounding
    blanks ignored), or None if it carries none."""
    # What Envoy and the services send matches as it is; anything else is normalized first.
    match = _TRACEPARENT.fullmatch(value) or _TRACEPARENT.fullmatch(value.strip().lower())
    if match is None:
        return None
    trace_hex, span_hex, flags_hex = match.groups()
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    return valid_span_context(trace_id, span_id, True, _TRACE_FLAGS[int(flags_hex, 16)], DEFAULT_TRACE_STATE)


def current_span_context() -> SpanContext | None:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return context
    return parse_traceparent(traceparent_var.get()) if traceparent_var.get() else None


def current_traceparent() -> str:
    """The context an event written now is stamped with ("" outside any trace)."""
    context = trace.get_current_span().get_span_context()
    return format_traceparent(context) if context.is_valid else traceparent_var.get()


def link_to(traceparent: str) -> list[Link]:
    """A link to the span that wrote an event, for the span that handles it (none if unknown)."""
    context = parse_traceparent(traceparent) if traceparent else None
    return [Link(context, {"tenantmesh.link": "event.producer"})] if context is not None else []


def remote_parent(traceparent: str) -> trace.Span | None:
    """The span an event was written under, as a parent for its publication span."""
    context = parse_traceparent(traceparent) if traceparent else None
    return NonRecordingSpan(context) if context is not None else None
