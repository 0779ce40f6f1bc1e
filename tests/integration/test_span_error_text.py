"""Errors leave no free text in exported spans (docs/observability.md): a failed SQL statement, a
failed outgoing call and a failing event handler make error spans whose status says the code and
at most what the runtime wrote (an exception's class name), with no exception message or stack
trace. The spans go through the runtime's real tracing (exporter, encoder) to an OTLP receiver.

The text every error here carries stands for request data: MariaDB quotes the values of a
duplicate key in its message, a peer's status details can hold anything, and so can an
exception raised by a handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.runtime.events import Event, InProcessEventBus
from services.runtime.telemetry.settings import TracingSettings
from services.runtime.telemetry.tracing import Tracing
from tests.conftest import mysql_execute
from tests.support.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver

PII = "ada.pii@example.test"
ERROR = trace_pb2.Status.STATUS_CODE_ERROR
# What an exception event may hold: its type, never its message or stack trace.
EXCEPTION_EVENT_KEYS = {"exception.type", "exception.escaped"}


@pytest.fixture
async def traced() -> AsyncIterator[tuple[Tracing, OtlpReceiver]]:
    async with otlp_receiver() as receiver:
        settings = TracingSettings(endpoint=receiver.endpoint, sampler="always_on", batch_delay_ms=50)
        tracing = Tracing(settings, version="test")
        try:
            yield tracing, receiver
        finally:
            await tracing.shutdown()


async def exported(tracing: Tracing, receiver: OtlpReceiver, predicate: Callable[[ReceivedSpan], bool]) -> ReceivedSpan:
    await asyncio.to_thread(tracing.flush)
    return await receiver.wait_for(predicate)


def assert_no_free_text(span: ReceivedSpan) -> None:
    assert PII.encode() not in span.encoded
    for name, attributes in span.events:
        assert name != "exception" or set(attributes) <= EXCEPTION_EVENT_KEYS


async def test_a_failed_statement_is_an_error_named_by_its_exception_class(
    db_backend_url: str, traced: tuple[Tracing, OtlpReceiver]
) -> None:
    tracing, receiver = traced
    url = make_url(db_backend_url)
    if url.get_backend_name() == "mysql":
        await mysql_execute(url, f"CREATE DATABASE `{url.database}`")  # the fixture drops it
    engine = create_async_engine(db_backend_url, poolclass=NullPool)
    tracing.instrument_engine(engine)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE people (email VARCHAR(100) NOT NULL UNIQUE)")
        with tracing.tracer.start_as_current_span("a call"):  # SQL spans need a parent
            async with engine.connect() as conn:
                insert = text("INSERT INTO people (email) VALUES (:email)")
                await conn.execute(insert, {"email": PII})
                with pytest.raises(IntegrityError) as raised:
                    await conn.execute(insert, {"email": PII})
    finally:
        await engine.dispose()
    if url.get_backend_name() == "mysql":
        assert PII in str(raised.value.orig)  # what the instrumentation would have exported

    span = await exported(tracing, receiver, lambda s: s.name.startswith("INSERT") and s.status_code == ERROR)
    assert span.status_message == "IntegrityError"
    assert span.events == []
    assert_no_free_text(span)


async def fail(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Duplicate entry '{PII}'")
    raise AssertionError("unreachable")


async def fail_midway(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> AsyncIterator[bytes]:
    yield b"first"
    await context.abort(grpc.StatusCode.INTERNAL, f"lost {PII}")


async def test_a_failed_outgoing_call_is_an_error_without_the_peers_details(
    traced: tuple[Tracing, OtlpReceiver],
) -> None:
    tracing, receiver = traced
    server = grpc.aio.server()
    handlers: dict[str, Any] = {
        "Unary": grpc.unary_unary_rpc_method_handler(fail),
        "Stream": grpc.unary_stream_rpc_method_handler(fail_midway),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Failing", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=tracing.client_interceptors())
        async with channel:
            # Raw bytes both ways (no serializers).
            unary: Any = channel.unary_unary("/test.Failing/Unary")
            stream_call: Any = channel.unary_stream("/test.Failing/Stream")
            with tracing.tracer.start_as_current_span("a call"):  # client spans need a parent
                with pytest.raises(grpc.aio.AioRpcError):
                    await unary(b"")
                with pytest.raises(grpc.aio.AioRpcError):
                    async for _ in stream_call(b""):
                        pass
    finally:
        await server.stop(0)

    unary_span = await exported(tracing, receiver, lambda s: s.name == "/test.Failing/Unary")
    stream = await exported(tracing, receiver, lambda s: s.name == "/test.Failing/Stream")
    for span in (unary_span, stream):
        assert (span.status_code, span.status_message) == (ERROR, "")
        assert_no_free_text(span)
    # The instrumentation records the stream's exception explicitly: by its type alone.
    assert [(name, attributes["exception.type"]) for name, attributes in stream.events] == [
        ("exception", "grpc.aio._call.AioRpcError")
    ]


async def test_a_failing_handler_makes_its_consumer_span_an_error_named_by_class(
    traced: tuple[Tracing, OtlpReceiver],
) -> None:
    tracing, receiver = traced
    bus = InProcessEventBus(max_deliveries=1)
    bus.telemetry.attach(tracing.tracer, None)

    async def handler(event: Event) -> None:
        raise RuntimeError(f"(1062, \"Duplicate entry '{PII}' for key 'uq_users_email'\")")

    bus.subscribe_group("auth-tenants", "user.", handler)
    await bus.publish(Event(type="user.created", tenant_id="t1", payload={"email": PII}, traceparent=""))
    assert [group for group, _, _ in bus.dead_letters] == ["auth-tenants"]

    span = await exported(tracing, receiver, lambda s: s.name == "process user.created")
    assert (span.status_code, span.status_message) == (ERROR, "RuntimeError")
    assert span.events == []
    assert_no_free_text(span)
