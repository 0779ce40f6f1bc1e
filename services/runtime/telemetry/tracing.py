"""The process's tracing: tracer providers, the exporter, and the instrumentations.

One tracer provider per platform service, so that in the embedded mode (five services in one
process) each service's spans still carry its own ``service.name``; all of them feed one batch
processor and one OTLP exporter. The providers are the runtime's lean ones (lean_spans.py): the
SDK's samplers, batch processor and exporter, without the SDK's span object. The process's own
provider (``tenantmesh`` unless ``OTEL_SERVICE_NAME`` says otherwise) owns the spans of shared
resources: SQL, Redis, outgoing calls, the outbox relay and event consumers.

Nothing here is global: providers are passed to the maintained instrumentations explicitly
(grpc.aio client interceptors, SQLAlchemy per engine, redis-py per client), so several runtimes
in one process (tests) never share or clobber state. Server spans are the runtime pipeline's own
(services/runtime/interceptors/tracing.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any, cast

import grpc
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.context import traceparent_var
from services.runtime.telemetry.lean_spans import LeanTracer, LeanTracerProvider
from services.runtime.telemetry.otlp_encoding import SpanEncoder
from services.runtime.telemetry.sampling import SkipUnparentedClientSpans, standard_sampler
from services.runtime.telemetry.settings import TracingSettings
from services.runtime.telemetry.sql import record_database_name, record_error_class

log = logging.getLogger("tenantmesh.telemetry")

SERVICE_NAMESPACE = "tenantmesh"
# Outgoing calls nobody wants traced: health probes, reflection.
_UNTRACED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _method(details: Any) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)


def traced_outgoing_call(details: Any) -> bool:
    """The client instrumentation's filter: not inside a call whose trace is not sampled (no span
    is active but the caller's traceparent is kept), where the propagated traceparent goes on."""
    if _method(details).startswith(_UNTRACED_PREFIXES):
        return False
    return trace.get_current_span().get_span_context().is_valid or not traceparent_var.get()


_SHUTDOWN_FLUSH_MS = 2_000


class _EncodedExportStub:
    """TraceService's Export taking the request as its encoded bytes (sent as they are)."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.Export: grpc.UnaryUnaryMultiCallable[bytes, ExportTraceServiceResponse] = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )


class _GrpcSpanExporter(GrpcExporter):
    """The OTLP/gRPC exporter, encoding with :class:`SpanEncoder` and sending its bytes: the stock
    encoder costs about four to five times as much per span, and a message parsed from those bytes
    only to be serialized again twice as much as the encoding, on a thread that holds the GIL the
    event loop needs. Retries, timeouts and reconnects are the stock exporter's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._encoder = SpanEncoder()

    def _initialize_channel_and_stub(self) -> None:
        # On start and on every reconnect.
        super()._initialize_channel_and_stub()  # type: ignore[no-untyped-call]
        self._client = _EncodedExportStub(cast(grpc.Channel, self._channel))  # type: ignore[assignment]

    def _translate_data(self, data: Sequence[ReadableSpan]) -> bytes:  # type: ignore[override]
        return self._encoder.encode_bytes(data)


def otlp_exporter(settings: TracingSettings) -> SpanExporter:
    assert settings.endpoint is not None
    timeout = settings.export_timeout_seconds
    if settings.protocol == "grpc":
        return _GrpcSpanExporter(
            endpoint=settings.endpoint,
            insecure=settings.endpoint.startswith("http://"),
            headers=dict(settings.headers),
            timeout=timeout,
        )
    return HttpExporter(endpoint=settings.endpoint, headers=dict(settings.headers), timeout=timeout)


class Tracing:
    def __init__(self, settings: TracingSettings, *, version: str, process_name: str = "tenantmesh") -> None:
        self.settings = settings
        self._version = version
        self._sampler = SkipUnparentedClientSpans(standard_sampler(settings))
        # Batched: a simple processor exports on the caller's thread, which is the event loop.
        self._processor = BatchSpanProcessor(otlp_exporter(settings), schedule_delay_millis=settings.batch_delay_ms)
        self._providers: dict[str, LeanTracerProvider] = {}
        self._instance = f"{socket.gethostname()}-{os.getpid()}"
        self.process_provider = self.provider(process_name)
        self.tracer = self.process_provider.get_tracer("tenantmesh.runtime")
        self._sql_tracer = self.process_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        self._unused_pool_counter = NoOpMeterProvider().get_meter("unused").create_up_down_counter("unused")

    def provider(self, service: str) -> LeanTracerProvider:
        """The tracer provider whose spans are ``service``'s (``tenantmesh-<service>``)."""
        provider = self._providers.get(service)
        if provider is None:
            name = self.settings.service_name or (service if service == "tenantmesh" else f"tenantmesh-{service}")
            attributes: dict[str, str] = {
                "service.namespace": SERVICE_NAMESPACE,
                "service.version": self._version,
                "service.instance.id": self._instance,
                **self.settings.resource_attributes,
                "service.name": name,
            }
            provider = LeanTracerProvider(
                sampler=self._sampler,
                resource=Resource.create(attributes),
                processor=self._processor,
            )
            self._providers[service] = provider
        return provider

    def server_tracer(self, service: str) -> LeanTracer:
        """The tracer of ``service``'s server spans (opened by the runtime's pipeline: see
        interceptors/tracing.py for why not by the grpc instrumentation's server interceptor)."""
        return self.provider(service).get_tracer("tenantmesh.runtime.server")

    def client_interceptors(self) -> list[grpc.aio.ClientInterceptor]:
        interceptors: list[grpc.aio.ClientInterceptor] = aio_client_interceptors(  # type: ignore[no-untyped-call]
            tracer_provider=self.process_provider, filter_=traced_outgoing_call
        )
        return interceptors

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """SQL spans for every statement of ``engine``, named by the database it ran in."""
        # The instrumentation's engine tracer, attached to this engine alone: its instrumentor would
        # also patch create_engine process-wide (and it refuses SQLAlchemy 2.1 by version number,
        # although the event API it uses is unchanged; tests/grpc/test_tracing.py checks the spans).
        # Pool usage is measured by our own metrics, so its connection counter goes nowhere.
        # A failed statement's span is described by the exception's class (sql.py), not its text.
        record_error_class(engine)
        EngineTracer(self._sql_tracer, engine.sync_engine, self._unused_pool_counter)  # type: ignore[no-untyped-call]
        record_database_name(engine)

    def instrument_redis(self, client: Any) -> None:
        RedisInstrumentor.instrument_client(client, tracer_provider=self.process_provider)

    def flush(self) -> None:
        """Exports what is buffered now (blocking: call it from a thread, not the event loop)."""
        self._processor.force_flush()

    async def shutdown(self) -> None:
        """Exports what is buffered (bounded: a collector that is down must not hold up a stop)."""
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        if not self._processor.force_flush(_SHUTDOWN_FLUSH_MS):
            log.warning("spans not exported at shutdown: the trace collector did not answer in time")
        self._processor.shutdown()  # type: ignore[no-untyped-call]
