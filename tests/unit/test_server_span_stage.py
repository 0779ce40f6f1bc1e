"""The server span stage reads the caller's trace context as the W3C propagator does: a plain
``traceparent`` directly, anything else (a trace state, another version) through the propagator."""

from __future__ import annotations

from typing import Any, cast

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind

from services.runtime.access import MethodPolicy, Scope
from services.runtime.interceptors import tracing
from services.runtime.interceptors.chain import IncomingCall
from services.runtime.interceptors.tracing import ServerSpanStage
from services.runtime.telemetry.lean_spans import LeanSpan, LeanTracerProvider
from services.runtime.telemetry.sampling import SkipUnparentedClientSpans

METHOD = "/tenantmesh.tenants.v1.TenantService/GetTenant"
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
SAMPLED = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


async def server_span(metadata: dict[str, str]) -> LeanSpan | None:
    provider = LeanTracerProvider(
        sampler=SkipUnparentedClientSpans(ParentBased(ALWAYS_ON)),
        resource=Resource.create({"service.name": "tenantmesh-tenants"}),
        processor=SimpleSpanProcessor(InMemorySpanExporter()),
    )
    policy = MethodPolicy(METHOD, "tenants.read", public=False, scope=Scope.TENANT, server_streaming=False)
    call = IncomingCall(METHOD, policy, metadata, context=cast(Any, None), request=None, peer="")
    await ServerSpanStage(provider.get_tracer("tenantmesh.runtime.server"))(call)
    assert call.span is None or trace.get_current_span() is call.span  # the call's code runs under it
    return call.span


async def test_a_plain_traceparent_is_the_parent() -> None:
    span = await server_span({"traceparent": SAMPLED})
    assert span is not None
    assert span.parent is not None
    assert (span.parent.trace_id, span.parent.span_id, span.parent.is_remote) == (TRACE_ID, SPAN_ID, True)
    assert span.context.trace_id == TRACE_ID
    assert span.kind is SpanKind.SERVER
    assert span.attributes == {
        "rpc.system": "grpc",
        "rpc.service": "tenantmesh.tenants.v1.TenantService",
        "rpc.method": "GetTenant",
    }


async def test_a_trace_state_is_kept() -> None:
    span = await server_span({"traceparent": SAMPLED, "tracestate": "vendor=value"})
    assert span is not None
    assert span.parent is not None
    assert span.parent.span_id == SPAN_ID
    assert span.context.trace_state.to_header() == "vendor=value"


async def test_an_oversized_trace_state_is_dropped_unread(caplog: pytest.LogCaptureFixture) -> None:
    """A caller-sized trace state is neither kept nor logged: the trace still continues."""
    malformed = ",".join(f"BAD KEY {n}=x" for n in range(400))  # ~5 kB, every member malformed
    assert len(malformed) > tracing.TRACESTATE_LIMIT
    with caplog.at_level("DEBUG"):
        span = await server_span({"traceparent": SAMPLED, "tracestate": malformed})
    assert span is not None
    assert span.parent is not None
    assert (span.parent.trace_id, span.parent.span_id) == (TRACE_ID, SPAN_ID)
    assert span.context.trace_state.to_header() == ""
    assert not [record for record in caplog.records if "BAD KEY" in record.getMessage()]

    # Within the limit it is the propagator's to read, as before.
    limit = ",".join(f"k{n}=" + "a" * 120 for n in range(4))
    assert len(limit) <= tracing.TRACESTATE_LIMIT
    span = await server_span({"traceparent": SAMPLED, "tracestate": limit})
    assert span is not None
    assert span.context.trace_state.to_header() == limit


async def test_a_later_version_is_read_as_the_propagator_reads_it() -> None:
    span = await server_span({"traceparent": f"01-{TRACE_ID:032x}-{SPAN_ID:016x}-01-later"})
    assert span is not None
    assert span.parent is not None
    assert span.parent.span_id == SPAN_ID


async def test_no_or_an_invalid_traceparent_starts_a_trace() -> None:
    for metadata in ({}, {"traceparent": f"00-{0:032x}-{SPAN_ID:016x}-01"}, {"traceparent": "garbage"}):
        span = await server_span(metadata)
        assert span is not None
        assert span.parent is None
        assert span.context.trace_id != TRACE_ID


async def test_a_trace_the_caller_did_not_sample_gets_no_span() -> None:
    assert await server_span({"traceparent": SAMPLED[:-2] + "00"}) is None


async def test_an_empty_trace_state_is_read_without_the_propagator(monkeypatch: pytest.MonkeyPatch) -> None:
    # Envoy's tracer always sends the header, empty: the W3C propagator would read it as no state.
    def no_propagator(carrier: object) -> None:
        raise AssertionError("the propagator was used for a plain traceparent")

    monkeypatch.setattr(tracing._W3C, "extract", no_propagator)
    span = await server_span({"traceparent": SAMPLED, "tracestate": ""})
    assert span is not None
    assert span.parent is not None
    assert (span.parent.trace_id, span.parent.span_id) == (TRACE_ID, SPAN_ID)
    assert len(span.context.trace_state) == 0
