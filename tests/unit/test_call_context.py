"""The call's OpenTelemetry context, set directly: what the API's attach would set, for the call's
task only."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from services.runtime.telemetry import call_context
from services.runtime.telemetry.call_context import enter_span, suppress_instrumentation

SPAN = NonRecordingSpan(SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, TraceFlags(1)))


def test_the_default_runtime_context_is_set_directly() -> None:
    assert call_context._CURRENT is not None


async def test_a_span_entered_in_a_call_is_current_there_only() -> None:
    seen: list[object] = []

    async def call() -> None:
        suppress_instrumentation()
        enter_span(SPAN)
        await asyncio.sleep(0)
        seen.extend([trace.get_current_span(), is_instrumentation_enabled()])

    await asyncio.create_task(call())
    assert seen == [SPAN, False]
    assert trace.get_current_span() is not SPAN
    assert is_instrumentation_enabled()


async def test_without_the_default_runtime_context_the_apis_attach_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_context, "_CURRENT", None)

    async def call() -> object:
        enter_span(SPAN)
        return trace.get_current_span()

    assert await asyncio.create_task(call()) is SPAN
    assert trace.get_current_span() is not SPAN
