"""The exporter's batch encoder writes what the stock OTLP encoder writes, for every kind of span
the platform makes (server, client, consumer with links, events, errors, remote parents)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState

from services.runtime.telemetry import otlp_encoding
from services.runtime.telemetry.otlp_encoding import SpanEncoder

REMOTE = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(1),
    trace_state=TraceState([("vendor", "value")]),
)


def decoded(encoder: SpanEncoder, spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The export request ``encoder`` writes for ``spans``, parsed (to compare with the SDK's)."""
    return ExportTraceServiceRequest.FromString(encoder.encode_bytes(spans))


def providers(exporter: InMemorySpanExporter, *names: str) -> Iterator[TracerProvider]:
    for name in names:
        provider = TracerProvider(resource=Resource.create({"service.name": name, "service.namespace": "tenantmesh"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        yield provider


def finished_spans() -> tuple[ReadableSpan, ...]:
    exporter = InMemorySpanExporter()
    tenants, auth = providers(exporter, "tenantmesh-tenants", "tenantmesh-auth")
    server = tenants.get_tracer("tenantmesh.runtime.server")
    sql = tenants.get_tracer("opentelemetry.instrumentation.sqlalchemy", "0.66b2")
    for index in range(3):
        span = server.start_span(
            "/tenantmesh.tenants.v1.TenantService/GetTenant",
            context=set_span_in_context(NonRecordingSpan(REMOTE)),
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.method": "GetTenant"},
        )
        span.set_attributes(
            {
                "tenantmesh.request_id": f"req-{index}",
                "rpc.grpc.status_code": 0 if index else 13,
                "flag": True,
                "one": 1,
                "ratio": 1.0,
                "long": "x" * 200,
                "list": ["a", "b"],
            }
        )
        if not index:
            span.set_status(Status(StatusCode.ERROR, "INTERNAL"))
        with sql.start_as_current_span("SELECT tenant_acme", context=set_span_in_context(span), kind=SpanKind.CLIENT):
            pass
        span.end()
    consumer = auth.get_tracer("tenantmesh.runtime").start_span(
        "tenant.created process", kind=SpanKind.CONSUMER, links=[Link(REMOTE, {"tenantmesh.link": "event.producer"})]
    )
    consumer.add_event("retry", {"attempt": 2})
    consumer.set_status(Status(StatusCode.OK))
    consumer.end()
    return exporter.get_finished_spans()


def test_the_batch_is_encoded_as_the_stock_encoder_encodes_it() -> None:
    spans = finished_spans()
    encoder = SpanEncoder()
    assert decoded(encoder, spans) == encode_spans(spans)
    # Again, with the resources, scopes and attribute pairs now coming from the caches.
    assert decoded(encoder, spans) == encode_spans(spans)


def test_values_equal_across_types_keep_their_own_type() -> None:
    exporter = InMemorySpanExporter()
    (provider,) = providers(exporter, "tenantmesh-tenants")
    for value in (True, 1, 1.0, "1"):
        provider.get_tracer("t").start_span("s", attributes={"v": value}).end()
    spans = exporter.get_finished_spans()
    request = decoded(SpanEncoder(), spans)
    values = [span.attributes[0].value for span in request.resource_spans[0].scope_spans[0].spans]
    assert [v.WhichOneof("value") for v in values] == ["bool_value", "int_value", "double_value", "string_value"]


def test_the_pair_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp_encoding, "_CACHED_PAIRS", 4)
    exporter = InMemorySpanExporter()
    (provider,) = providers(exporter, "tenantmesh-tenants")
    for index in range(10):
        provider.get_tracer("t").start_span("s", attributes={"tenantmesh.tenant_id": f"t{index}"}).end()
    spans = exporter.get_finished_spans()
    encoder = SpanEncoder()
    assert decoded(encoder, spans) == encode_spans(spans)
    assert len(encoder._pairs) <= 4


def test_spans_of_equal_resources_from_two_providers_are_all_exported() -> None:
    # OTEL_SERVICE_NAME gives every provider of a process the same resource: the stock encoder
    # merges them, this one keeps one entry per provider. Both are valid OTLP; no span is lost.
    exporter = InMemorySpanExporter()
    first, second = providers(exporter, "tenantmesh", "tenantmesh")
    first.get_tracer("t").start_span("a").end()
    second.get_tracer("t").start_span("b").end()
    request = decoded(SpanEncoder(), exporter.get_finished_spans())
    names = [span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert sorted(names) == ["a", "b"]
    assert {rs.resource.SerializeToString(deterministic=True) for rs in request.resource_spans} == {
        encode_spans(exporter.get_finished_spans()).resource_spans[0].resource.SerializeToString(deterministic=True)
    }
