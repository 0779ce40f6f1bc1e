"""Edge settings from the environment (TENANTMESH_EDGE_*)."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from services.mesh.apps import RATE_LIMIT_PACKAGE
from services.mesh.edge import EdgeSettings, GlobalRateLimit, Upstream
from services.runtime.config import ConfigError
from services.runtime.telemetry.settings import load_tracing_settings

# Variable -> EdgeSettings field; every field that varies between deployments.
_VARIABLES = {
    "TENANTMESH_EDGE_BIND_ADDRESS": "bind_address",
    "TENANTMESH_EDGE_HTTPS_PORT": "https_port",
    "TENANTMESH_EDGE_HTTP_PORT": "http_port",
    "TENANTMESH_EDGE_ADMIN_PORT": "admin_port",
    "TENANTMESH_EDGE_TLS_CERT_FILE": "tls_cert_file",
    "TENANTMESH_EDGE_TLS_KEY_FILE": "tls_key_file",
    "TENANTMESH_EDGE_CORS_ORIGINS": "cors_allowed_origins",
    "TENANTMESH_EDGE_MAX_REQUEST_BYTES": "max_request_bytes",
    "TENANTMESH_EDGE_ROUTE_TIMEOUT_SECONDS": "route_timeout_seconds",
    "TENANTMESH_EDGE_REQUEST_TIMEOUT_SECONDS": "request_timeout_seconds",
    "TENANTMESH_EDGE_RATE_LIMIT_RPS": "global_rate_limit_rps",
    "TENANTMESH_EDGE_TENANT_RATE_LIMIT_RPS": "per_tenant_rate_limit_rps",
    "TENANTMESH_EDGE_CONCURRENCY": "concurrency",
    "TENANTMESH_EDGE_ACCESS_LOG": "access_log_path",
    "TENANTMESH_EDGE_JWKS_CACHE_SECONDS": "jwks_cache_seconds",
    # The same variable as the services': the tokens' issuer is the platform's public URL.
    "TENANTMESH_PUBLIC_URL": "public_url",
    "TENANTMESH_EDGE_STATS_PORT": "stats_port",
}


def _convert(kind: Any, raw: str) -> Any:
    if kind in (int, "int"):
        return int(raw)
    if kind in (Path, "Path"):
        return Path(raw)
    if kind in ("tuple[str, ...]",):
        return tuple(origin.strip() for origin in raw.split(",") if origin.strip())
    return raw


def load_edge_settings(env: Mapping[str, str] | None = None, *, tls_dir: Path | None = None) -> EdgeSettings:
    """EdgeSettings with environment overrides; TLS files default into ``tls_dir`` (dev material)."""
    source = os.environ if env is None else env
    kinds = {f.name: f.type for f in fields(EdgeSettings)}
    values: dict[str, Any] = {}
    if tls_dir is not None:
        values.update(tls_cert_file=tls_dir / "server.pem", tls_key_file=tls_dir / "server.key")
    for variable, name in _VARIABLES.items():
        raw = source.get(variable, "").strip()
        if raw:
            try:
                values[name] = _convert(kinds[name], raw)
            except ValueError as exc:
                raise ConfigError(f"{variable}={raw!r} is not valid: {exc}") from None
    # The services' default, so that edge and services agree on the issuer without it being set.
    values.setdefault("public_url", f"https://localhost:{values.get('https_port', EdgeSettings.https_port)}")
    values.update(_edge_tracing(source))
    try:
        return EdgeSettings(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"edge settings: {exc}") from None


def _edge_tracing(env: Mapping[str, str]) -> dict[str, Any]:
    """The edge traces to the collector the services export to (OTEL_* variables, gRPC only:
    Envoy's OpenTelemetry tracer speaks OTLP/gRPC), at the services' sampling ratio."""
    tracing = load_tracing_settings(env)
    if not tracing.enabled or tracing.protocol != "grpc" or tracing.endpoint is None:
        return {}
    location = urllib.parse.urlsplit(tracing.endpoint if "//" in tracing.endpoint else f"//{tracing.endpoint}")
    if not location.hostname or not location.port:
        raise ConfigError(f"the OTLP endpoint {tracing.endpoint!r} must name a host and a port")
    return {
        "tracing_collector": f"{location.hostname}:{location.port}",
        "tracing_sample_percent": tracing.effective_ratio * 100,
    }


def uses_dev_tls(env: Mapping[str, str] | None = None) -> bool:
    source = os.environ if env is None else env
    return not source.get("TENANTMESH_EDGE_TLS_CERT_FILE", "").strip()


def load_global_rate_limit(env: Mapping[str, str], service: str, host: str, port: int) -> GlobalRateLimit | None:
    """The edge asking the rate limit service ``service`` at host:port about every request of a tenant,
    unless TENANTMESH_EDGE_GLOBAL_RATE_LIMIT=off; TENANTMESH_EDGE_RATE_LIMIT_TIMEOUT_MS (250) bounds each
    answer, TENANTMESH_EDGE_RATE_LIMIT_FAILURE_MODE_DENY=on refuses requests while none comes."""
    switches = {}
    for variable, default in (
        ("TENANTMESH_EDGE_GLOBAL_RATE_LIMIT", "on"),
        ("TENANTMESH_EDGE_RATE_LIMIT_FAILURE_MODE_DENY", "off"),
    ):
        value = env.get(variable, "").strip().lower() or default
        if value not in ("on", "off"):
            raise ConfigError(f"{variable} must be on or off, got {value!r}")
        switches[variable] = value == "on"
    if not switches["TENANTMESH_EDGE_GLOBAL_RATE_LIMIT"]:
        return None
    raw_timeout = env.get("TENANTMESH_EDGE_RATE_LIMIT_TIMEOUT_MS", "").strip() or "250"
    try:
        return GlobalRateLimit(
            Upstream(service, host, port, (RATE_LIMIT_PACKAGE,)),
            timeout_ms=int(raw_timeout),
            failure_mode_deny=switches["TENANTMESH_EDGE_RATE_LIMIT_FAILURE_MODE_DENY"],
        )
    except ValueError as exc:
        raise ConfigError(f"the edge's global rate limit: {exc}") from None
