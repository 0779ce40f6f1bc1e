"""Telemetry settings, read from the standard ``OTEL_*`` variables (and the metrics port).

Tracing is on when an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and neither ``OTEL_SDK_DISABLED=true`` nor
``OTEL_TRACES_EXPORTER=none`` says otherwise. Without an endpoint nothing is set up at all:
no tracer provider, no instrumentation, no interceptor, so an embedded mesh pays nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.runtime.config import ConfigError, EnvReader

# Parent-based ratio sampling keeps whole traces: a root is sampled at this ratio, every
# span below follows its parent's decision (Envoy's for calls through the edge).
DEFAULT_SAMPLER = "parentbased_traceidratio"
DEFAULT_SAMPLE_RATIO = 0.01
SAMPLERS = frozenset(
    {"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", DEFAULT_SAMPLER}
)
# gRPC is what Envoy's OpenTelemetry tracer speaks too: one collector port serves both.
PROTOCOLS = frozenset({"grpc", "http/protobuf"})
DEFAULT_METRICS_PORT = 9464


@dataclass(frozen=True)
class TracingSettings:
    endpoint: str | None
    protocol: str = "grpc"
    # Sent with every export (a collector's API key, say): never logged.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    sampler: str = DEFAULT_SAMPLER
    ratio: float = DEFAULT_SAMPLE_RATIO
    # OTEL_SERVICE_NAME: when set it names every service of the process.
    service_name: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    export_timeout_seconds: float = 10.0
    # How long spans wait in the batch before export (OTEL_BSP_SCHEDULE_DELAY, milliseconds).
    batch_delay_ms: float = 5000.0

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None

    @property
    def effective_ratio(self) -> float:
        """The share of new traces that are kept (what the edge's random sampling is set to)."""
        if self.sampler in ("always_on", "parentbased_always_on"):
            return 1.0
        if self.sampler in ("always_off", "parentbased_always_off"):
            return 0.0
        return self.ratio


@dataclass(frozen=True)
class MetricsSettings:
    # None: no metrics endpoint; 0: a free port (tests).
    port: int | None = DEFAULT_METRICS_PORT
    host: str = "127.0.0.1"


def _pairs(value: str) -> dict[str, str]:
    """W3C baggage-style ``k=v,k2=v2`` as OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS use."""
    pairs: dict[str, str] = {}
    for position, item in enumerate(value.split(","), start=1):
        name, sep, rest = item.partition("=")
        if not item.strip():
            continue
        if not sep or not name.strip():
            # Not the item's text: the headers hold a collector's API key.
            raise ValueError(f"entry {position} is not key=value")
        pairs[name.strip()] = rest.strip()
    return pairs


def _ratio(value: str) -> float:
    ratio = float(value)
    if not 0.0 <= ratio <= 1.0:
        raise ValueError("must be between 0 and 1")
    return ratio


def load_tracing_settings(env: Mapping[str, str]) -> TracingSettings:
    read = EnvReader(env)
    disabled = read.get("OTEL_SDK_DISABLED", "false", str).lower() == "true"
    exporter = read.get("OTEL_TRACES_EXPORTER", "otlp", str).lower()
    if exporter not in ("otlp", "none"):
        raise ConfigError(f"OTEL_TRACES_EXPORTER={exporter!r} is not supported (otlp or none)")
    endpoint = read.raw("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or read.raw("OTEL_EXPORTER_OTLP_ENDPOINT")
    protocol = read.raw("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or read.raw("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
    if protocol not in PROTOCOLS:
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported ({', '.join(sorted(PROTOCOLS))})")
    sampler = read.get("OTEL_TRACES_SAMPLER", DEFAULT_SAMPLER, str).lower()
    if sampler not in SAMPLERS:
        raise ConfigError(f"OTEL_TRACES_SAMPLER={sampler!r} is not supported ({', '.join(sorted(SAMPLERS))})")
    none: dict[str, str] = {}
    headers = read.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", none, _pairs) or read.get(
        "OTEL_EXPORTER_OTLP_HEADERS", none, _pairs
    )
    return TracingSettings(
        endpoint=None if disabled or exporter == "none" else endpoint,
        protocol=protocol,
        headers=headers,
        sampler=sampler,
        ratio=read.get("OTEL_TRACES_SAMPLER_ARG", DEFAULT_SAMPLE_RATIO, _ratio),
        service_name=read.raw("OTEL_SERVICE_NAME"),
        resource_attributes=read.get("OTEL_RESOURCE_ATTRIBUTES", none, _pairs),
        export_timeout_seconds=read.positive("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000.0) / 1000,
        batch_delay_ms=read.positive("OTEL_BSP_SCHEDULE_DELAY", 5000.0),
    )


def _metrics_port(value: str) -> int | None:
    if value.lower() == "off":
        return None
    port = int(value)
    if not 0 <= port < 65536:
        raise ValueError("must be a TCP port, 0 for a free one, or off")
    return port


def load_metrics_settings(env: Mapping[str, str]) -> MetricsSettings:
    read = EnvReader(env)
    default: int | None = DEFAULT_METRICS_PORT
    return MetricsSettings(
        port=read.get("TENANTMESH_METRICS_PORT", default, _metrics_port),
        host=read.get("TENANTMESH_METRICS_HOST", "127.0.0.1", str),
    )


def load_usage_flush_seconds(env: Mapping[str, str]) -> float:
    """How often each process adds its per-tenant call counts to the core database."""
    return EnvReader(env).positive("TENANTMESH_USAGE_FLUSH_SECONDS", 60.0)
