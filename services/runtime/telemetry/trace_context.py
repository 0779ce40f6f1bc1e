"""W3C trace context of the current call, as text: for events, outgoing metadata and logs.

With tracing on, the current span is the truth. With tracing off the runtime still keeps the
caller's ``traceparent`` (``traceparent_var``) and passes it on untouched, so a trace begun by
Envoy or a client continues through a process that does not record spans itself.
"""

from __future__ import annotations

import re

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags

from services.runtime.context import traceparent_var

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def format_traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def parse_traceparent(value: str) -> SpanContext | None:
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    trace_id, span_id = int(match[1], 16), int(match[2], 16)
    if trace_id == 0 or span_id == 0:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(match[3], 16)))


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
