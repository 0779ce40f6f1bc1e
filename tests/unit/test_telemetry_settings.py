"""Telemetry settings from OTEL_* variables, the sampler's extra rule, and trace context text."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.span import TraceState

from services.runtime.config import ConfigError
from services.runtime.context import traceparent_var
from services.runtime.logging import JsonFormatter
from services.runtime.telemetry.sampling import SkipUnparentedClientSpans
from services.runtime.telemetry.settings import load_metrics_settings, load_tracing_settings
from services.runtime.telemetry.trace_context import (
    current_traceparent,
    link_to,
    parse_traceparent,
    valid_span_context,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_tracing_is_off_without_an_endpoint_or_when_disabled() -> None:
    assert not load_tracing_settings({}).enabled
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}
    assert load_tracing_settings(endpoint).enabled
    assert not load_tracing_settings({**endpoint, "OTEL_SDK_DISABLED": "true"}).enabled
    assert not load_tracing_settings({**endpoint, "OTEL_TRACES_EXPORTER": "none"}).enabled


def test_tracing_settings_read_the_standard_variables() -> None:
    settings = load_tracing_settings(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4317",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=secret,x=y",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod",
        }
    )
    assert settings.endpoint == "http://traces:4317"  # the signal-specific one wins
    assert settings.headers == {"api-key": "secret", "x": "y"}
    assert "secret" not in repr(settings)  # headers may hold credentials
    assert settings.effective_ratio == 0.25
    assert settings.resource_attributes == {"deployment.environment": "prod"}
    assert load_tracing_settings({"OTEL_TRACES_SAMPLER": "parentbased_always_on"}).effective_ratio == 1.0
    assert load_tracing_settings({}).effective_ratio == 0.01


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_SAMPLER": "sometimes"},
        {"OTEL_TRACES_SAMPLER_ARG": "1.5"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
    ],
)
def test_bad_tracing_settings_stop_the_process(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_tracing_settings(env)


def test_metrics_port_default_free_and_off() -> None:
    assert load_metrics_settings({}).port == 9464
    assert load_metrics_settings({}).host == "127.0.0.1"
    assert load_metrics_settings({"TENANTMESH_METRICS_PORT": "0"}).port == 0
    assert load_metrics_settings({"TENANTMESH_METRICS_PORT": "off"}).port is None
    with pytest.raises(ConfigError):
        load_metrics_settings({"TENANTMESH_METRICS_PORT": "70000"})


def test_client_spans_without_a_parent_are_dropped_and_the_rest_follow_the_inner_sampler() -> None:
    sampler = SkipUnparentedClientSpans(ALWAYS_ON)
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C
    assert sampler.should_sample(None, trace_id, "SELECT", SpanKind.CLIENT).decision == Decision.DROP
    assert sampler.should_sample(None, trace_id, "rpc", SpanKind.SERVER).decision == Decision.RECORD_AND_SAMPLE
    parent = SpanContext(trace_id, 0xB7AD6B7169203331, is_remote=True, trace_flags=TraceFlags(1))
    context = trace.set_span_in_context(NonRecordingSpan(parent))
    assert sampler.should_sample(context, trace_id, "SELECT", SpanKind.CLIENT).decision == Decision.RECORD_AND_SAMPLE


def test_traceparent_parsing_and_links() -> None:
    context = parse_traceparent(TRACEPARENT)
    assert context is not None
    assert context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert context.trace_flags.sampled
    for bad in ("", "garbage", "00-" + "0" * 32 + "-b7ad6b7169203331-01", "01-0af7651916cd43dd8448eb211c80319c-b7"):
        assert parse_traceparent(bad) is None
    assert link_to("") == []
    (link,) = link_to(TRACEPARENT)
    assert link.context.span_id == 0xB7AD6B7169203331


def test_without_a_span_the_callers_traceparent_is_passed_on() -> None:
    token = traceparent_var.set(TRACEPARENT)
    try:
        assert current_traceparent() == TRACEPARENT
    finally:
        traceparent_var.reset(token)
    assert current_traceparent() == ""


def test_json_logs_carry_the_trace_and_span_ids() -> None:
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO", "name": "t"})
    assert "trace_id" not in json.loads(JsonFormatter().format(record))
    # With tracing off, the caller's ids (from its traceparent) ...
    token = traceparent_var.set(TRACEPARENT)
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        traceparent_var.reset(token)
    assert (entry["trace_id"], entry["span_id"]) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    # ... and with a span, the span's.
    context = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1))
    with trace.use_span(NonRecordingSpan(context)):
        entry = json.loads(JsonFormatter().format(record))
    assert (entry["trace_id"], entry["span_id"]) == (f"{0x1234:032x}", f"{0x5678:016x}")


@pytest.mark.parametrize(
    ("trace_id", "span_id", "is_remote", "flags", "state"),
    [
        (1, 1, True, 0, TraceState()),
        (0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, 0x03, TraceState([("vendor", "value")])),
        (2**128 - 1, 2**64 - 1, True, 0xFF, TraceState()),
    ],
)
def test_a_span_context_built_for_known_valid_ids_is_the_apis(
    trace_id: int, span_id: int, is_remote: bool, flags: int, state: TraceState
) -> None:
    built = valid_span_context(trace_id, span_id, is_remote, TraceFlags(flags), state)
    expected = SpanContext(trace_id, span_id, is_remote, TraceFlags(flags), state)
    assert type(built) is SpanContext
    assert tuple(built) == tuple(expected)
    assert (built.trace_id, built.span_id, built.is_remote, built.is_valid) == (trace_id, span_id, is_remote, True)
    assert (built.trace_flags, built.trace_state) == (flags, state)


def test_a_traceparent_is_read_in_any_case_and_without_surrounding_blanks() -> None:
    expected = parse_traceparent(TRACEPARENT)
    assert expected is not None
    for variant in (TRACEPARENT.upper(), f"  {TRACEPARENT}\t"):
        context = parse_traceparent(variant)
        assert context == expected
        assert context is not None
        assert (context.is_remote, context.is_valid) == (True, True)
    assert parse_traceparent(TRACEPARENT + "\n-") is None
    assert parse_traceparent(TRACEPARENT[:-2] + "00") == SpanContext(
        expected.trace_id, expected.span_id, is_remote=True, trace_flags=TraceFlags(0)
    )
