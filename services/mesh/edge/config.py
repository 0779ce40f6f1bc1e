"""What the edge is told: its own settings, and the gRPC servers behind it."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from services.mesh.edge.mesh_tls import EdgeMeshTls
from services.runtime.config import is_loopback_url, parse_public_url

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE_DIR = REPO_ROOT / "envoy"
DEFAULT_TEMPLATE_NAME = "envoy.yaml.j2"
DEFAULT_DESCRIPTOR_PATH = REPO_ROOT / "gen" / "descriptor.binpb"
DEFAULT_TLS_DIR = REPO_ROOT / ".data" / "tls"

_MIB = 1024 * 1024
# What browsers are told of a public platform: HTTPS only, for a year (the usual HSTS max-age).
STRICT_TRANSPORT_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class GlobalRateLimit:
    """Where the edge asks about the global per-tenant limit (services/ratelimit)."""

    upstream: Upstream
    # How long Envoy waits for an answer before failure_mode_deny applies.
    timeout_ms: int = 250
    # The service unreachable or slow: refuse requests (True) or let them through (False).
    failure_mode_deny: bool = False
    domain: str = "tenantmesh"

    def __post_init__(self) -> None:
        if not 1 <= self.timeout_ms <= 60_000:
            raise ValueError(f"the rate limit service's timeout must be 1-60000 ms, got {self.timeout_ms}")


@dataclass(frozen=True)
class EdgeSettings:
    """Knobs of the front door. Defaults suit `make run` on a laptop."""

    bind_address: str = "127.0.0.1"
    https_port: int = 8443
    # Plain-text listener (HTTP/1.1 and h2c), meant for local tools and internal callers.
    http_port: int = 8080
    # The admin interface is always bound to 127.0.0.1, whatever bind_address says.
    admin_port: int = 9901
    tls_cert_file: Path = DEFAULT_TLS_DIR / "server.pem"
    tls_key_file: Path = DEFAULT_TLS_DIR / "server.key"
    # Exact origins allowed by CORS (scheme://host[:port]).
    cors_allowed_origins: tuple[str, ...] = ("https://localhost:8443",)
    # Largest REST request body accepted (413 above it).
    max_request_bytes: int = _MIB
    # Largest unary REST response the transcoder converts to JSON.
    max_response_bytes: int = 4 * _MIB
    # Upstream timeout of unary routes; server-streaming routes have none.
    route_timeout_seconds: int = 15
    # The whole request (headers and body) must arrive within this, else 408: a body trickled a
    # byte at a time held its connection for ever. Long enough for the largest upload (25 MiB)
    # at 0.7 Mbit/s; Envoy's edge guidance. A response once started is not cut by it.
    request_timeout_seconds: int = 300
    # Token bucket shared by every request (tokens per second; burst = one second's worth).
    global_rate_limit_rps: int = 1000
    # One bucket per distinct x-tenant-id value (tokens per second; burst = one second's worth).
    per_tenant_rate_limit_rps: int = 100
    # How many tenant buckets Envoy keeps (LRU); an evicted tenant starts again with a full bucket.
    per_tenant_rate_limit_max_tenants: int = 10_000
    # The global per-tenant limit (the rate limit service, on Redis); None: the per-tenant buckets
    # above, per Envoy process. With it, those buckets are left out and only the global bucket
    # (and, with token checks, the buckets of requests without a verified token) stay local.
    global_rate_limit: GlobalRateLimit | None = None
    # Envoy worker threads.
    concurrency: int = 1
    access_log_path: str = "/dev/stdout"
    descriptor_path: Path = DEFAULT_DESCRIPTOR_PATH
    # Cap on concurrent downstream connections (Envoy's overload manager).
    max_downstream_connections: int = 10_000
    # How long Envoy trusts a fetched JWKS before fetching it again (only with the auth upstream).
    # Envoy 1.40 does not refetch on an unknown `kid`: after a key rotation, tokens signed by the
    # new key are refused at the edge until the next fetch, so keep this short.
    jwks_cache_seconds: int = 300
    # The platform's public base URL (TENANTMESH_PUBLIC_URL, shared with the services): the
    # access tokens' issuer. Unset, the services take https://localhost:<edge https port>, and
    # so does load_edge_settings.
    public_url: str = "https://localhost:8443"

    @property
    def issuer(self) -> str:
        return self.public_url

    @property
    def strict_transport_seconds(self) -> int:
        """How long browsers are told to reach the platform over HTTPS only (HSTS): a year for a
        public address; never for a loopback one, where a browser would then refuse every other
        local http:// server of that name (browsers ignore the header over plain HTTP anyway)."""
        return 0 if is_loopback_url(self.public_url) else STRICT_TRANSPORT_SECONDS

    # Mutual TLS to the services (the edge's certificate, the mesh CA); None: plaintext upstreams.
    mesh_tls: EdgeMeshTls | None = None
    # The OTLP/gRPC collector the edge sends its spans to ("host:port"; empty: the edge does not
    # trace). The same collector the services export to: for browser calls the edge's span is
    # the trace's root, and its traceparent reaches the services.
    tracing_collector: str = ""
    # Share of requests arriving without a sampled trace context whose trace the edge starts
    # (percent); the services follow the edge's decision.
    tracing_sample_percent: float = 100.0
    # A listener serving only the admin's /stats/prometheus, for a Prometheus in another
    # container or pod (0: none; the admin interface itself stays on 127.0.0.1).
    stats_port: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_url", parse_public_url(self.public_url))
        for name in ("https_port", "http_port", "admin_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ValueError(f"{name} must be a TCP port, got {port}")
        if not 0 <= self.stats_port < 65536:
            raise ValueError(f"stats_port must be a TCP port or 0, got {self.stats_port}")
        if len({self.https_port, self.http_port, self.admin_port}) != 3:
            raise ValueError("https_port, http_port and admin_port must differ")
        for name in (
            "max_request_bytes",
            "max_response_bytes",
            "route_timeout_seconds",
            "request_timeout_seconds",
            "global_rate_limit_rps",
            "per_tenant_rate_limit_rps",
            "per_tenant_rate_limit_max_tenants",
            "concurrency",
            "max_downstream_connections",
            "jwks_cache_seconds",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if not 0.0 <= self.tracing_sample_percent <= 100.0:
            raise ValueError("tracing_sample_percent must be between 0 and 100")
        if self.tracing_collector and not re.fullmatch(r"[A-Za-z0-9.-]+:[0-9]{1,5}", self.tracing_collector):
            raise ValueError(f"tracing_collector must be host:port, got {self.tracing_collector!r}")
        if isinstance(self.cors_allowed_origins, str):
            raise TypeError("cors_allowed_origins is a tuple of origins, not a string")
        for origin in self.cors_allowed_origins:
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"CORS origin must be scheme://host[:port] without a path: {origin!r}")


@dataclass(frozen=True)
class Upstream:
    """One gRPC server behind the edge (an Envoy cluster)."""

    name: str
    host: str
    port: int
    packages: tuple[str, ...]
    # Service name asked in the gRPC health check; "" asks about the server as a whole.
    health_service: str = ""
    # Further replicas of the service ((host, port) each) beside host:port, balanced round robin.
    # A host name resolving to several addresses (STRICT_DNS) is the other way to list replicas.
    replicas: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", self.name):
            raise ValueError(f"upstream name must be a lowercase identifier: {self.name!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"upstream {self.name}: bad port {self.port}")
        if isinstance(self.packages, str) or not self.packages:
            raise ValueError(f"upstream {self.name}: packages must be a non-empty tuple")
        for host, port in self.replicas:
            if not 0 < port < 65536:
                raise ValueError(f"upstream {self.name}: bad port {port} of replica {host}")
        if len(set(self.endpoints)) != len(self.endpoints):
            raise ValueError(f"upstream {self.name}: an endpoint is listed twice")

    @property
    def endpoints(self) -> tuple[tuple[str, int], ...]:
        return ((self.host, self.port), *self.replicas)

    @property
    def host_is_ip(self) -> bool:
        """Every endpoint is an IP address (a STATIC cluster); else the names are resolved."""
        return all(is_ip_address(host) for host, _ in self.endpoints)


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
