"""The OTLP/gRPC exporter sends the runtime's encoded batches as they are, and after a collector
that was down comes back it reconnects with the same stub."""

from __future__ import annotations

import asyncio

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from services.runtime.telemetry.lean_spans import LeanTracerProvider
from services.runtime.telemetry.sampling import SkipUnparentedClientSpans
from services.runtime.telemetry.settings import TracingSettings
from services.runtime.telemetry.tracing import otlp_exporter
from tests.support.otlp import OtlpReceiver
from tests.support.ports import free_port
from tests.support.registry import eventually


def finished_spans() -> list[object]:
    memory = InMemorySpanExporter()
    provider = LeanTracerProvider(
        sampler=SkipUnparentedClientSpans(ALWAYS_ON),
        resource=Resource.create({"service.name": "tenantmesh-tenants"}),
        processor=SimpleSpanProcessor(memory),
    )
    tracer = provider.get_tracer("tenantmesh.runtime.server")
    for name in ("first", "second"):
        with tracer.start_as_current_span(name, attributes={"rpc.method": name}):
            pass
    return list(memory.get_finished_spans())


async def test_batches_reach_a_collector_that_comes_back_after_being_down() -> None:
    port = free_port()
    exporter = otlp_exporter(TracingSettings(endpoint=f"http://127.0.0.1:{port}", export_timeout_seconds=20))
    spans = finished_spans()
    state = vars(exporter)  # the stock exporter's: its stub is "_client"
    client_before = state["_client"]
    export = asyncio.create_task(asyncio.to_thread(exporter.export, spans))  # type: ignore[arg-type]
    # Nobody listens yet: the first attempt is UNAVAILABLE, and the exporter makes its channel and
    # stub again before it retries.

    async def remade() -> bool:
        return state["_client"] is not client_before

    await eventually(remade, within=10)
    receiver = OtlpReceiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        assert await export == SpanExportResult.SUCCESS
    finally:
        await server.stop(0)
        exporter.shutdown()
    received = {(span.service, span.name, span.attributes["rpc.method"]) for span in receiver.spans}
    assert received == {("tenantmesh-tenants", "first", "first"), ("tenantmesh-tenants", "second", "second")}
