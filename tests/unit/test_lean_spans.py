"""The runtime's lean spans record what the SDK's spans record: the same scenario run through the
SDK's tracer provider and through the lean one exports the same OTLP, ids and times aside, except
for free text from errors, which the lean spans never keep (status descriptions other than the
runtime's own, exception messages and stack traces); the sampling decisions, limits and rules
after ``end()`` are the SDK's."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
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

from services.runtime.telemetry.lean_spans import (
    KEPT_DESCRIPTIONS,
    MAX_ATTRIBUTES,
    LeanSpan,
    LeanTracerProvider,
    mark_error,
)
from services.runtime.telemetry.otlp_encoding import SpanEncoder
from services.runtime.telemetry.sampling import SkipUnparentedClientSpans

RESOURCE = Resource.create({"service.name": "tenantmesh-tenants", "service.namespace": "tenantmesh"})
REMOTE = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(1),
    trace_state=TraceState([("vendor", "value")]),
)
UNSAMPLED = SpanContext(REMOTE.trace_id, REMOTE.span_id, is_remote=True, trace_flags=TraceFlags(0))
PARENT_BASED = SkipUnparentedClientSpans(ParentBased(ALWAYS_ON))


def lean(exporter: InMemorySpanExporter, sampler: Sampler = PARENT_BASED) -> trace.TracerProvider:
    assert isinstance(sampler, SkipUnparentedClientSpans)  # what the runtime's providers take
    return LeanTracerProvider(sampler=sampler, resource=RESOURCE, processor=SimpleSpanProcessor(exporter))


def sdk(exporter: InMemorySpanExporter, sampler: Sampler = PARENT_BASED) -> trace.TracerProvider:
    provider = TracerProvider(sampler=sampler, resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


class Boom(Exception):
    pass


def scenario(provider: trace.TracerProvider) -> None:
    """What the platform does with spans: a server span under a remote parent with attributes set
    at the start and the end, SQL spans below it, an instrumentation's span ended by an exception,
    a consumer span of its own trace with a link and an event, a status that must not change."""
    server = provider.get_tracer("tenantmesh.runtime.server").start_span(
        "/tenantmesh.tenants.v1.TenantService/GetTenant",
        context=set_span_in_context(NonRecordingSpan(REMOTE)),
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.method": "GetTenant"},
    )
    server.set_attributes({"tenantmesh.request_id": "req-1", "rpc.grpc.status_code": 13, "list": ["a", "b"]})
    server.set_attribute("ratio", 0.5)
    server.set_attribute("object", Boom("as text"))  # type: ignore[arg-type]  # the SDK keeps str(value)
    server.set_status(Status(StatusCode.ERROR, "INTERNAL"))
    sql = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", "0.66b2")
    with sql.start_as_current_span("connect", context=set_span_in_context(server), kind=SpanKind.CLIENT) as span:
        span.update_name("SELECT tenant_acme")
        span.set_attribute("db.system", "sqlite")
    # The exception options as an instrumentation passes them (the defaults differ on purpose:
    # see test_errors_leave_no_free_text_on_a_span).
    with (
        pytest.raises(Boom),
        sql.start_as_current_span(
            "INSERT core", context=set_span_in_context(server), kind=SpanKind.CLIENT, record_exception=False
        ),
    ):
        raise Boom("duplicate key")
    with (
        pytest.raises(Boom),
        sql.start_span(
            "ROLLBACK core", context=set_span_in_context(server), kind=SpanKind.CLIENT, record_exception=False
        ),
    ):
        raise Boom("the span itself as the context manager")
    client = provider.get_tracer("opentelemetry.instrumentation.grpc").start_span(
        "/tenantmesh.auth.v1.AuthService/ProvisionTenant", context=set_span_in_context(server), kind=SpanKind.CLIENT
    )
    # What the grpc client instrumentation does with a failed stream: its details, then the exception.
    client.set_status(Status(StatusCode.ERROR, "AioRpcError: Duplicate entry 'ada.pii@example.test'"))
    client.record_exception(Boom("ada.pii@example.test"))
    client.end()
    server.end()
    server.set_attribute("late", True)  # ignored after end, as the SDK does
    consumer = provider.get_tracer("tenantmesh.runtime").start_span(
        "process tenant.created", kind=SpanKind.CONSUMER, links=[Link(REMOTE, {"tenantmesh.link": "event.producer"})]
    )
    consumer.add_event("retry", {"attempt": 2})
    consumer.set_status(Status(StatusCode.OK))
    consumer.set_status(Status(StatusCode.ERROR, "later"))  # OK is final
    consumer.end()


def exported(make: Callable[[InMemorySpanExporter], trace.TracerProvider]) -> tuple[ReadableSpan, ...]:
    exporter = InMemorySpanExporter()
    scenario(make(exporter))
    return exporter.get_finished_spans()


def without_ids_and_times(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.ClearField("span_id")
                span.ClearField("start_time_unix_nano")
                span.ClearField("end_time_unix_nano")
                if span.parent_span_id != REMOTE.span_id.to_bytes(8, "big"):
                    span.ClearField("parent_span_id")
                if span.trace_id != REMOTE.trace_id.to_bytes(16, "big"):
                    span.ClearField("trace_id")  # a new trace (the consumer's)
                for event in span.events:
                    event.ClearField("time_unix_nano")
    return request


def as_the_lean_spans_keep_it(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    """The SDK's export without the free text the lean spans never keep: an exception event's
    message and stack trace, and a status description other than the runtime's own (a gRPC code's
    name; an exception's class name, which the SDK writes as ``Class: message``)."""
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for event in span.events:
                    free_text = {"exception.message", "exception.stacktrace"}
                    kept = [pair for pair in event.attributes if pair.key not in free_text]
                    assert len(kept) == len(event.attributes) - 2 or event.name != "exception"
                    del event.attributes[:]
                    event.attributes.extend(kept)
                message = span.status.message
                if message and message not in KEPT_DESCRIPTIONS:
                    by_class = re.fullmatch(r"(Boom): .*", message)
                    span.status.message = by_class.group(1) if by_class else ""
    return request


def test_the_lean_spans_export_what_the_sdks_spans_export() -> None:
    lean_spans, sdk_spans = exported(lean), exported(sdk)
    assert all(isinstance(span, LeanSpan) for span in lean_spans)
    assert without_ids_and_times(encode_spans(lean_spans)) == as_the_lean_spans_keep_it(
        without_ids_and_times(encode_spans(sdk_spans))
    )
    # The runtime's encoder writes the same for them as the stock one.
    assert ExportTraceServiceRequest.FromString(SpanEncoder().encode_bytes(lean_spans)) == encode_spans(lean_spans)


def test_children_point_at_their_parent_and_ids_are_fresh() -> None:
    connect, insert, rollback, client, server, consumer = exported(lean)  # in the order they ended
    assert connect.parent == insert.parent == rollback.parent == client.parent == server.context
    assert server.parent == REMOTE
    assert consumer.parent is None
    assert len({span.context.span_id for span in (server, connect, insert, rollback, client, consumer)}) == 6
    assert consumer.context.trace_id != REMOTE.trace_id


def decisions(make: Callable[[InMemorySpanExporter, Sampler], trace.TracerProvider], sampler: Sampler) -> list[object]:
    """For each case: recorded or not, and the flags and trace state a child would carry on."""
    tracer = make(InMemorySpanExporter(), sampler).get_tracer("t")
    # Parents with the random-trace-id flag (W3C level 2) and with bits no version defines yet.
    flagged = [
        SpanContext(REMOTE.trace_id, REMOTE.span_id, is_remote=True, trace_flags=TraceFlags(flags))
        for flags in (0x02, 0x03, 0x80, 0x81, 0xFF)
    ]
    cases = [
        (REMOTE, SpanKind.SERVER),
        (UNSAMPLED, SpanKind.SERVER),
        *((parent, SpanKind.SERVER) for parent in flagged),
        *((parent, SpanKind.INTERNAL) for parent in flagged),
        (None, SpanKind.SERVER),
        (None, SpanKind.CLIENT),
        (REMOTE, SpanKind.CLIENT),
    ]
    seen: list[object] = []
    for parent, kind in cases:
        context = set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
        span = tracer.start_span("s", context=context, kind=kind)
        span_context = span.get_span_context()
        same_trace = parent is None or span_context.trace_id == parent.trace_id
        seen.append((span.is_recording(), int(span_context.trace_flags), span_context.trace_state, same_trace))
    return seen


@pytest.mark.parametrize(
    "sampler",
    [PARENT_BASED, SkipUnparentedClientSpans(ParentBased(TraceIdRatioBased(0))), SkipUnparentedClientSpans(ALWAYS_ON)],
    ids=["parentbased_always_on", "parentbased_traceidratio_0", "always_on"],
)
def test_sampling_decisions_are_the_sdks(sampler: Sampler) -> None:
    assert decisions(lean, sampler) == decisions(sdk, sampler)


def test_attributes_past_the_limit_push_out_the_oldest() -> None:
    exporter = InMemorySpanExporter()
    span = lean(exporter).get_tracer("t").start_span("s", attributes={"first": 1})
    span.set_attributes({f"a{index}": index for index in range(MAX_ATTRIBUTES)})
    span.set_attribute("last", True)
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert len(finished.attributes or {}) == MAX_ATTRIBUTES
    assert finished.dropped_attributes == 2
    assert "first" not in (finished.attributes or {})
    assert "a0" not in (finished.attributes or {})
    assert (finished.attributes or {})["last"] is True


def test_a_span_is_exported_once_however_often_it_is_ended() -> None:
    exporter = InMemorySpanExporter()
    span = lean(exporter).get_tracer("t").start_span("s")
    span.end()
    span.end()
    spans: Sequence[ReadableSpan] = exporter.get_finished_spans()
    assert len(spans) == 1
    assert not span.is_recording()


def test_a_batch_processor_is_handed_each_ended_span_once() -> None:
    exporter = InMemorySpanExporter()
    processor = BatchSpanProcessor(exporter)
    provider = LeanTracerProvider(sampler=PARENT_BASED, resource=RESOURCE, processor=processor)
    tracer = provider.get_tracer("t")
    for name in ("first", "second"):
        span = tracer.start_span(name, context=set_span_in_context(NonRecordingSpan(REMOTE)))
        span.end()
        span.end()
    tracer.start_span("unsampled", context=set_span_in_context(NonRecordingSpan(UNSAMPLED))).end()
    assert processor.force_flush()
    assert [span.name for span in exporter.get_finished_spans()] == ["first", "second"]
    processor.shutdown()  # type: ignore[no-untyped-call]


def test_what_one_span_records_stays_its_own() -> None:
    # Events, links and status start as the class's values: a change must stay on its span.
    exporter = InMemorySpanExporter()
    tracer = lean(exporter).get_tracer("t")
    changed, untouched = tracer.start_span("changed"), tracer.start_span("untouched")
    changed.add_event("retry", {"attempt": 2})
    changed.add_link(REMOTE, {"tenantmesh.link": "event.producer"})
    changed.set_status(Status(StatusCode.ERROR, "failed"))
    changed.end()
    untouched.end()
    finished = {span.name: span for span in exporter.get_finished_spans()}
    assert [event.name for event in finished["changed"].events] == ["retry"]
    assert [link.context for link in finished["changed"].links] == [REMOTE]
    assert finished["changed"].status.status_code is StatusCode.ERROR
    assert (finished["untouched"].events, finished["untouched"].links) == ((), ())
    assert finished["untouched"].status.status_code is StatusCode.UNSET


def test_errors_leave_no_free_text_on_a_span() -> None:
    """Status descriptions are the runtime's own (a gRPC code's name, an exception's class name),
    never an error's text; exceptions are recorded by type alone, and only when asked for."""
    exporter = InMemorySpanExporter()
    tracer = lean(exporter, SkipUnparentedClientSpans(ALWAYS_ON)).get_tracer("opentelemetry.instrumentation.sqlalchemy")
    # A with block that raises, with the tracer's defaults: ERROR by class, no exception event.
    with pytest.raises(Boom), tracer.start_as_current_span("current"):
        raise Boom("Duplicate entry 'ada.pii@example.test'")
    with pytest.raises(Boom), tracer.start_span("span itself"):
        raise Boom("Duplicate entry 'ada.pii@example.test'")
    # An instrumentation's description (str(exception), a peer's details) is dropped...
    free_text = tracer.start_span("free text")
    free_text.set_status(Status(StatusCode.ERROR, "(1062, \"Duplicate entry 'ada.pii@example.test'\")"))
    free_text.end()
    also_free_text = tracer.start_span("free text, as code and description")
    also_free_text.set_status(StatusCode.ERROR, "details: ada.pii@example.test")
    also_free_text.end()
    # ...and does not replace the runtime's.
    described = tracer.start_span("described")
    mark_error(described, Boom("ada.pii@example.test"))
    described.set_status(Status(StatusCode.ERROR, "Boom: ada.pii@example.test"))
    described.end()
    # The server span's own description (interceptors/tracing.py): a gRPC code's name.
    server = tracer.start_span("server")
    server.set_status(Status(StatusCode.ERROR, "INTERNAL"))
    server.end()
    # An exception recorded explicitly (the grpc client instrumentation does): its type only.
    recorded = tracer.start_span("recorded")
    recorded.record_exception(Boom("ada.pii@example.test"))
    recorded.end()
    # The rules stay the SDK's: OK is final, nothing after end().
    ok = tracer.start_span("ok")
    ok.set_status(Status(StatusCode.OK))
    mark_error(ok, Boom("late"))
    ok.end()
    mark_error(ok, Boom("after end"))

    finished = {span.name: span for span in exporter.get_finished_spans()}
    assert {name: (span.status.status_code, span.status.description) for name, span in finished.items()} == {
        "current": (StatusCode.ERROR, "Boom"),
        "span itself": (StatusCode.ERROR, "Boom"),
        "free text": (StatusCode.ERROR, None),
        "free text, as code and description": (StatusCode.ERROR, None),
        "described": (StatusCode.ERROR, "Boom"),
        "server": (StatusCode.ERROR, "INTERNAL"),
        "recorded": (StatusCode.UNSET, None),
        "ok": (StatusCode.OK, None),
    }
    assert [
        (span.name, event.name, dict(event.attributes or {})) for span in finished.values() for event in span.events
    ] == [
        ("recorded", "exception", {"exception.type": "tests.unit.test_lean_spans.Boom", "exception.escaped": "False"})
    ]
    assert b"ada.pii@example.test" not in SpanEncoder().encode_bytes(list(finished.values()))


def test_every_server_error_code_is_kept_as_the_server_spans_description() -> None:
    exporter = InMemorySpanExporter()
    tracer = lean(exporter, SkipUnparentedClientSpans(ALWAYS_ON)).get_tracer("tenantmesh.runtime.server")
    names = ("UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS")
    for name in names:
        span = tracer.start_span(name, kind=SpanKind.SERVER)
        span.set_status(Status(StatusCode.ERROR, name))
        span.end()
    assert [span.status.description for span in exporter.get_finished_spans()] == list(names)
