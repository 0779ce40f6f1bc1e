"""Everything Envoy needs to know about the mesh, and the renderer of its config.

The edge routes only what the protos say is public: an upstream lists the proto
packages it serves, and the REST routes are derived from the ``google.api.http``
rules of those packages' services in the descriptor set Envoy transcodes with.
A package that no upstream serves (e.g. ``tenantmesh.lifecycle.v1``, internal
only) gets no route at all, neither REST nor native gRPC.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jinja2
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE_DIR = REPO_ROOT / "envoy"
DEFAULT_TEMPLATE_NAME = "envoy.yaml.j2"
DEFAULT_DESCRIPTOR_PATH = REPO_ROOT / "gen" / "descriptor.binpb"
DEFAULT_TLS_DIR = REPO_ROOT / ".data" / "tls"

# Header carrying the tenant on every call; the per-tenant rate limit buckets are keyed on it.
TENANT_HEADER = "x-tenant-id"
# Domain of the google.rpc.ErrorInfo details Envoy's own JSON replies carry.
ERROR_DOMAIN = "tenantmesh.dev"

_MIB = 1024 * 1024


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
    # Token bucket shared by every request (tokens per second; burst = one second's worth).
    global_rate_limit_rps: int = 1000
    # One bucket per distinct x-tenant-id value (tokens per second; burst = one second's worth).
    per_tenant_rate_limit_rps: int = 100
    # How many tenant buckets Envoy keeps (LRU); an evicted tenant starts again with a full bucket.
    per_tenant_rate_limit_max_tenants: int = 10_000
    # Envoy worker threads.
    concurrency: int = 1
    access_log_path: str = "/dev/stdout"
    descriptor_path: Path = DEFAULT_DESCRIPTOR_PATH
    # Cap on concurrent downstream connections (Envoy's overload manager).
    max_downstream_connections: int = 10_000

    def __post_init__(self) -> None:
        for name in ("https_port", "http_port", "admin_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ValueError(f"{name} must be a TCP port, got {port}")
        if len({self.https_port, self.http_port, self.admin_port}) != 3:
            raise ValueError("https_port, http_port and admin_port must differ")
        for name in (
            "max_request_bytes",
            "max_response_bytes",
            "route_timeout_seconds",
            "global_rate_limit_rps",
            "per_tenant_rate_limit_rps",
            "per_tenant_rate_limit_max_tenants",
            "concurrency",
            "max_downstream_connections",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
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

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", self.name):
            raise ValueError(f"upstream name must be a lowercase identifier: {self.name!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"upstream {self.name}: bad port {self.port}")
        if isinstance(self.packages, str) or not self.packages:
            raise ValueError(f"upstream {self.name}: packages must be a non-empty tuple")

    @property
    def host_is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


class MatchKind(StrEnum):
    PREFIX = "prefix"
    PATH = "path"  # exact path
    REGEX = "regex"  # RE2, whole path


@dataclass(frozen=True)
class RestRoute:
    """A REST route at the edge: requests matching it go to ``cluster``."""

    kind: MatchKind
    value: str
    cluster: str
    # True for the routes of server-streaming methods: no route timeout.
    streaming: bool = False


@dataclass(frozen=True)
class GrpcRoute:
    """A native gRPC route (also what transcoded REST requests re-match)."""

    kind: MatchKind  # PREFIX "/<package>." or PATH "/<service>/<method>"
    value: str
    cluster: str
    streaming: bool = False


@dataclass(frozen=True)
class EdgeApi:
    """What the descriptor set says the edge must route."""

    rest_routes: tuple[RestRoute, ...]
    grpc_routes: tuple[GrpcRoute, ...]
    # Fully-qualified gRPC service names per upstream (cluster) name.
    services: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # "/<service>/<method>" of every routed server-streaming method.
    streaming_methods: tuple[str, ...] = ()

    @property
    def all_services(self) -> tuple[str, ...]:
        return tuple(s for names in self.services.values() for s in names)


def load_descriptor_set(descriptor_path: Path) -> descriptor_pb2.FileDescriptorSet:
    # Importing annotations_pb2 (above) registers the google.api.http extension, so
    # the options parsed here expose it.
    data = Path(descriptor_path).read_bytes()
    return descriptor_pb2.FileDescriptorSet.FromString(data)


def _http_paths(rule: http_pb2.HttpRule) -> list[str]:
    paths: list[str] = []
    pattern = rule.WhichOneof("pattern")
    if pattern == "custom":
        paths.append(rule.custom.path)
    elif pattern is not None:
        paths.append(getattr(rule, pattern))
    for extra in rule.additional_bindings:
        paths.extend(_http_paths(extra))
    return [p for p in paths if p]


def literal_prefix(template: str) -> str:
    """The literal part of a path template before its first variable or verb.

    ``/v1/tenants/{tenant_id}`` -> ``/v1/tenants``, ``/v1/tenants:lookup`` -> ``/v1/tenants``,
    ``/v1/meta/server-info`` -> itself. A trailing ``/`` is dropped unless the prefix is ``/``.
    """
    if not template.startswith("/"):
        raise ValueError(f"HTTP path template must start with '/': {template!r}")
    cut = len(template)
    for marker in ("{", ":", "*"):
        index = template.find(marker)
        if index != -1:
            cut = min(cut, index)
    prefix = template[:cut]
    if len(prefix) > 1:
        prefix = prefix.rstrip("/") or "/"
    return prefix


def template_regex(template: str) -> str:
    """An RE2 regex matching every path the HTTP rule template matches."""
    out: list[str] = []
    position = 0
    for match in re.finditer(r"\{([^}=]+)(?:=([^}]*))?\}", template):
        out.append(re.escape(template[position : match.start()]))
        out.append(_segments_regex(match.group(2) or "*"))
        position = match.end()
    rest = template[position:]
    # Wildcards may also appear outside variables ("/v1/*/things").
    out.append(_segments_regex(rest) if "*" in rest else re.escape(rest))
    return "".join(out)


def _segments_regex(pattern: str) -> str:
    parts = []
    for segment in pattern.split("/"):
        if segment == "**":
            parts.append(".+")
        elif segment == "*":
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment))
    return "/".join(parts)


def load_edge_api(descriptor_path: Path, upstreams: Sequence[Upstream]) -> EdgeApi:
    """Derive the edge routes of ``upstreams`` from the descriptor set.

    Raises ValueError when two upstreams claim the same package, service or REST
    prefix, when an upstream names a package the descriptor set does not hold, or
    when upstream names repeat.
    """
    names = [u.name for u in upstreams]
    if len(set(names)) != len(names):
        raise ValueError(f"upstream names must be unique: {names}")
    owner_of_package: dict[str, str] = {}
    for upstream in upstreams:
        for package in upstream.packages:
            previous = owner_of_package.setdefault(package, upstream.name)
            if previous != upstream.name:
                raise ValueError(f"package {package} is served by both {previous} and {upstream.name}")

    fds = load_descriptor_set(descriptor_path)
    known_packages = {f.package for f in fds.file}
    missing = sorted(set(owner_of_package) - known_packages)
    if missing:
        raise ValueError(f"packages not in {descriptor_path}: {', '.join(missing)}")

    services: dict[str, list[str]] = {u.name: [] for u in upstreams}
    prefix_owner: dict[str, str] = {}
    streaming_rest: dict[tuple[MatchKind, str], str] = {}
    streaming_methods: list[tuple[str, str]] = []

    for file in fds.file:
        cluster = owner_of_package.get(file.package)
        if cluster is None:
            continue
        for service in file.service:
            full_name = f"{file.package}.{service.name}"
            services[cluster].append(full_name)
            for method in service.method:
                if method.server_streaming:
                    streaming_methods.append((f"/{full_name}/{method.name}", cluster))
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                for template in _http_paths(rule):
                    prefix = literal_prefix(template)
                    previous = prefix_owner.setdefault(prefix, cluster)
                    if previous != cluster:
                        raise ValueError(
                            f"REST prefix {prefix} ({full_name}.{method.name}) is claimed by "
                            f"both {previous} and {cluster}"
                        )
                    if method.server_streaming:
                        if "{" in template or "*" in template:
                            key = (MatchKind.REGEX, template_regex(template))
                        else:
                            key = (MatchKind.PATH, template)
                        streaming_rest[key] = cluster

    rest: list[RestRoute] = [
        RestRoute(kind, value, cluster, streaming=True)
        for (kind, value), cluster in sorted(streaming_rest.items(), key=lambda kv: (-len(kv[0][1]), kv[0]))
    ]
    rest.extend(
        RestRoute(MatchKind.PREFIX, prefix, cluster)
        for prefix, cluster in sorted(prefix_owner.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    )

    grpc: list[GrpcRoute] = [
        GrpcRoute(MatchKind.PATH, path, cluster, streaming=True) for path, cluster in sorted(streaming_methods)
    ]
    grpc.extend(
        GrpcRoute(MatchKind.PREFIX, f"/{package}.", cluster)
        for package, cluster in sorted(owner_of_package.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    )
    return EdgeApi(
        rest_routes=tuple(rest),
        grpc_routes=tuple(grpc),
        services={name: tuple(sorted(found)) for name, found in services.items()},
        streaming_methods=tuple(path for path, _ in sorted(streaming_methods)),
    )


def rest_routes(descriptor_path: Path, upstreams: Sequence[Upstream]) -> list[RestRoute]:
    """REST routes of ``upstreams``: streaming methods' exact routes, then literal
    prefixes, longest first (the order Envoy must try them in)."""
    return list(load_edge_api(descriptor_path, upstreams).rest_routes)


def grpc_services(descriptor_path: Path, upstreams: Sequence[Upstream]) -> dict[str, tuple[str, ...]]:
    """Fully-qualified gRPC service names each upstream gets, by upstream name."""
    return load_edge_api(descriptor_path, upstreams).services


# Envoy's own replies to REST callers, shaped like a transcoded google.rpc.Status:
# HTTP status -> (gRPC code number, ErrorInfo reason). Order matters: first match wins.
LOCAL_REPLIES: tuple[tuple[int, int, str], ...] = (
    (429, 8, "RATE_LIMITED"),  # RESOURCE_EXHAUSTED
    (413, 3, "REQUEST_TOO_LARGE"),  # INVALID_ARGUMENT: retrying the same body cannot succeed
    (400, 3, "MALFORMED_REQUEST"),  # INVALID_ARGUMENT
    (404, 5, "ROUTE_NOT_FOUND"),  # NOT_FOUND
    (503, 14, "UPSTREAM_UNAVAILABLE"),  # UNAVAILABLE
    (502, 14, "UPSTREAM_UNAVAILABLE"),  # UNAVAILABLE (reset / protocol error upstream)
    (504, 4, "UPSTREAM_TIMEOUT"),  # DEADLINE_EXCEEDED
)


def _yaml_scalar(value: object) -> str:
    """Quote a value for the template: JSON is valid YAML, and safe for any string."""
    if isinstance(value, Path):
        value = str(value)
    return json.dumps(value)


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def render_envoy_config(
    settings: EdgeSettings,
    upstreams: Sequence[Upstream],
    *,
    template_dir: Path = DEFAULT_TEMPLATE_DIR,
    template_name: str = DEFAULT_TEMPLATE_NAME,
) -> str:
    """Render the Envoy bootstrap for ``upstreams`` behind the edge described by ``settings``."""
    if not upstreams:
        raise ValueError("the edge needs at least one upstream")
    api = load_edge_api(settings.descriptor_path, upstreams)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML, not HTML; values go through the `q` filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = _yaml_scalar
    env.filters["duration"] = _duration
    template = env.get_template(template_name)
    return template.render(**_context(settings, upstreams, api))


def _context(settings: EdgeSettings, upstreams: Sequence[Upstream], api: EdgeApi) -> dict[str, Any]:
    return {
        "settings": settings,
        "upstreams": list(upstreams),
        "api": api,
        "services": _unique(api.all_services),
        "tenant_header": TENANT_HEADER,
        "error_domain": ERROR_DOMAIN,
        "local_replies": LOCAL_REPLIES,
        "cors_allow_methods": "GET, POST, PATCH, DELETE, OPTIONS",
        "cors_allow_headers": "authorization, content-type, x-tenant-id, x-request-id, traceparent",
        "cors_expose_headers": "x-request-id, grpc-status, grpc-message",
    }


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
