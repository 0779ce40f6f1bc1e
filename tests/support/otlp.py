"""A real OTLP/gRPC trace receiver for tests: the collector's protocol, spans kept in memory.

The exporter of the processes under test (and Envoy's OpenTelemetry tracer) talk to it exactly
as they would to an OpenTelemetry Collector; the test then reads the spans it received.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2


def attribute_value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclass
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    links: list[tuple[str, str]]
    status_code: int
    status_message: str = ""
    # (name, attributes) of each event.
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # The span as it was sent (to look for text anywhere in it).
    encoded: bytes = b""

    @property
    def is_root(self) -> bool:
        return not self.parent_span_id


@dataclass
class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    spans: list[ReceivedSpan] = field(default_factory=list)
    port: int = 0
    # Set whenever spans arrive.
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            resource = {a.key: attribute_value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={a.key: attribute_value(a.value) for a in span.attributes},
                            links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                            status_code=span.status.code,
                            status_message=span.status.message,
                            events=[
                                (event.name, {a.key: attribute_value(a.value) for a in event.attributes})
                                for event in span.events
                            ],
                            encoded=span.SerializeToString(),
                        )
                    )
        self.arrived.set()
        return trace_service_pb2.ExportTraceServiceResponse()

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.trace_id == trace_id]

    def children(self, parent: ReceivedSpan) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.parent_span_id == parent.span_id]

    def find(self, predicate: Callable[[ReceivedSpan], bool]) -> Iterator[ReceivedSpan]:
        return (span for span in self.spans if predicate(span))

    async def settle(self, quiet: float = 0.5) -> int:
        """Waits until no span has arrived for ``quiet`` seconds (batches in flight are in); returns the count."""
        while True:
            count = len(self.spans)
            await asyncio.sleep(quiet)
            if len(self.spans) == count:
                return count

    async def wait_for(self, predicate: Callable[[ReceivedSpan], bool], within: float = 15.0) -> ReceivedSpan:
        """The first received span matching ``predicate`` (exporters batch: spans arrive late)."""
        try:
            async with asyncio.timeout(within):
                while (found := next(self.find(predicate), None)) is None:
                    self.arrived.clear()
                    await self.arrived.wait()
                return found
        except TimeoutError:
            names = sorted({f"{s.service}:{s.name}" for s in self.spans})
            raise AssertionError(f"no matching span within {within}s; received: {names}") from None


@contextlib.asynccontextmanager
async def otlp_receiver() -> AsyncIterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)  # type: ignore[no-untyped-call]
    receiver.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield receiver
    finally:
        await server.stop(0)


def tracing_environment(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    """Variables that send every span of a mesh to ``receiver``, exported within 100 ms."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        **extra,
    }
