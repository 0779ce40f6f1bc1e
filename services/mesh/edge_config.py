"""Everything Envoy needs to know about the mesh, and the renderer of its config.

The edge routes only what the protos say is public: an upstream lists the proto
packages it serves, and the REST routes are derived from the ``google.api.http``
rules of those packages' services in the descriptor set Envoy transcodes with.
A package that no upstream serves (e.g. ``tenantmesh.lifecycle.v1``, internal
only) gets no route at all, neither REST nor native gRPC.
"""

from __future__ import annotations

import base64
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
from google.rpc import error_details_pb2, status_pb2
from tenantmesh.type.v1 import access_pb2

from services.mesh.static_site import StaticSite
from services.runtime.auth.claims import AUDIENCE, ISSUER
from services.runtime.interceptors.request_id import CLIENT_ADDRESS_HEADER

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE_DIR = REPO_ROOT / "envoy"
DEFAULT_TEMPLATE_NAME = "envoy.yaml.j2"
DEFAULT_DESCRIPTOR_PATH = REPO_ROOT / "gen" / "descriptor.binpb"
DEFAULT_TLS_DIR = REPO_ROOT / ".data" / "tls"

# Header carrying the tenant on every call; the per-tenant rate limit buckets are keyed on it.
TENANT_HEADER = "x-tenant-id"
# Domain of the google.rpc.ErrorInfo details Envoy's own JSON replies carry.
ERROR_DOMAIN = "tenantmesh.dev"

# The edge verifies access tokens (Envoy jwt_authn) when the auth service is one of its
# upstreams: the JWKS comes from that service's GetJwks, through the edge's own listener.
AUTH_PACKAGE = "tenantmesh.auth.v1"
JWKS_METHOD = "/tenantmesh.auth.v1.AuthService/GetJwks"
JWT_PROVIDER = "tenantmesh"
# The verified token's tenant claim, written by jwt_authn; the per-tenant rate limit keys on
# it. Any copy a caller sends is removed before the filters run.
TOKEN_TENANT_HEADER = "x-tenantmesh-token-tenant"  # noqa: S105 - a header name
TOKEN_TENANT_CLAIM = "tid"  # noqa: S105 - a claim name
# Cluster of the edge's own plain listener, which Envoy fetches the JWKS through. Upstream
# names cannot start with "_", so it never collides with one.
JWKS_CLUSTER = "_edge_jwks"
# The services' clock leeway (services/runtime/auth/verifier.py), so both layers agree on expiry.
JWT_CLOCK_SKEW_SECONDS = 10

# The extension handle, typed loosely: the generated module is not type-checked.
_ACCESS: Any = access_pb2.access

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
    # How long Envoy trusts a fetched JWKS before fetching it again (only with the auth upstream).
    # Envoy 1.40 does not refetch on an unknown `kid`: after a key rotation, tokens signed by the
    # new key are refused at the edge until the next fetch, so keep this short.
    jwks_cache_seconds: int = 300

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
            "jwks_cache_seconds",
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
class HttpBinding:
    """One ``google.api.http`` binding of an RPC: HTTP method and path template."""

    verb: str  # "GET", "POST", ... (custom verbs as declared)
    template: str

    @property
    def path_regex(self) -> str:
        return template_regex(self.template)

    @property
    def is_literal(self) -> bool:
        return "{" not in self.template and "*" not in self.template

    def sample_path(self) -> str:
        """A concrete path this binding matches (each variable replaced by ``x`` segments)."""

        def segments(match: re.Match[str]) -> str:
            pattern = match.group(2) or "*"
            return "/".join("x" if part in ("*", "**") else part for part in pattern.split("/"))

        path = re.sub(r"\{([^}=]+)(?:=([^}]*))?\}", segments, self.template)
        return "/".join("x" if part in ("*", "**") else part for part in path.split("/"))


@dataclass(frozen=True)
class RoutedMethod:
    """An RPC the edge routes, with what its access policy says about tokens."""

    grpc_path: str  # "/<package>.<Service>/<Method>"
    # True only when the proto declares it public; a method without a policy is not public.
    public: bool
    bindings: tuple[HttpBinding, ...] = ()


@dataclass(frozen=True)
class EdgeApi:
    """What the descriptor set says the edge must route."""

    rest_routes: tuple[RestRoute, ...]
    grpc_routes: tuple[GrpcRoute, ...]
    # Fully-qualified gRPC service names per upstream (cluster) name.
    services: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # "/<service>/<method>" of every routed server-streaming method.
    streaming_methods: tuple[str, ...] = ()
    # Every routed RPC, in descriptor order.
    methods: tuple[RoutedMethod, ...] = ()
    # Upstream (cluster) name per routed proto package.
    package_owners: dict[str, str] = field(default_factory=dict)

    @property
    def all_services(self) -> tuple[str, ...]:
        return tuple(s for names in self.services.values() for s in names)


def load_descriptor_set(descriptor_path: Path) -> descriptor_pb2.FileDescriptorSet:
    # Importing annotations_pb2 (above) registers the google.api.http extension, so
    # the options parsed here expose it.
    data = Path(descriptor_path).read_bytes()
    return descriptor_pb2.FileDescriptorSet.FromString(data)


def http_bindings(rule: http_pb2.HttpRule) -> list[HttpBinding]:
    """Every (HTTP method, path template) of an HttpRule, additional bindings included."""
    found: list[HttpBinding] = []
    pattern = rule.WhichOneof("pattern")
    if pattern == "custom":
        if rule.custom.path:
            found.append(HttpBinding(rule.custom.kind.upper(), rule.custom.path))
    elif pattern is not None and getattr(rule, pattern):
        found.append(HttpBinding(pattern.upper(), getattr(rule, pattern)))
    for extra in rule.additional_bindings:
        found.extend(http_bindings(extra))
    return found


def _http_paths(rule: http_pb2.HttpRule) -> list[str]:
    return [binding.template for binding in http_bindings(rule)]


def is_public(method: descriptor_pb2.MethodDescriptorProto) -> bool:
    """What the method's ``(tenantmesh.type.v1.access)`` option says; no option is not public."""
    return bool(method.options.HasExtension(_ACCESS) and method.options.Extensions[_ACCESS].public)


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
    methods: list[RoutedMethod] = []

    for file in fds.file:
        cluster = owner_of_package.get(file.package)
        if cluster is None:
            continue
        for service in file.service:
            full_name = f"{file.package}.{service.name}"
            services[cluster].append(full_name)
            for method in service.method:
                rule = (
                    method.options.Extensions[annotations_pb2.http]
                    if method.options.HasExtension(annotations_pb2.http)
                    else None
                )
                methods.append(
                    RoutedMethod(
                        grpc_path=f"/{full_name}/{method.name}",
                        public=is_public(method),
                        bindings=tuple(http_bindings(rule)) if rule is not None else (),
                    )
                )
                if method.server_streaming:
                    streaming_methods.append((f"/{full_name}/{method.name}", cluster))
                if rule is None:
                    continue
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
        methods=tuple(methods),
        package_owners=dict(owner_of_package),
    )


def rest_routes(descriptor_path: Path, upstreams: Sequence[Upstream]) -> list[RestRoute]:
    """REST routes of ``upstreams``: streaming methods' exact routes, then literal
    prefixes, longest first (the order Envoy must try them in)."""
    return list(load_edge_api(descriptor_path, upstreams).rest_routes)


def grpc_services(descriptor_path: Path, upstreams: Sequence[Upstream]) -> dict[str, tuple[str, ...]]:
    """Fully-qualified gRPC service names each upstream gets, by upstream name."""
    return load_edge_api(descriptor_path, upstreams).services


@dataclass(frozen=True)
class JwtExemption:
    """A request that jwt_authn lets through without a token: one public RPC's route."""

    kind: MatchKind  # PATH (gRPC path or literal REST path) or REGEX (REST template)
    value: str
    # HTTP method the REST binding answers; None for a native gRPC path (always POST).
    http_method: str | None = None


@dataclass(frozen=True)
class EdgeJwt:
    """Envoy jwt_authn at the edge: one provider, public RPCs exempt, everything else required."""

    provider: str
    issuer: str
    audiences: tuple[str, ...]
    jwks_uri: str
    jwks_host: str  # the edge's own plain listener, as seen from Envoy
    jwks_port: int
    jwks_cache_seconds: int
    exemptions: tuple[JwtExemption, ...]
    clock_skew_seconds: int = JWT_CLOCK_SKEW_SECONDS
    token_tenant_header: str = TOKEN_TENANT_HEADER
    token_tenant_claim: str = TOKEN_TENANT_CLAIM
    cluster: str = JWKS_CLUSTER


def _loopback_for(bind_address: str) -> str:
    """Where Envoy reaches its own plain listener."""
    if bind_address in ("0.0.0.0", ""):  # noqa: S104 - recognising the wildcard, not binding it
        return "127.0.0.1"
    if bind_address == "::":
        return "::1"
    return bind_address


def jwt_exemptions(methods: Sequence[RoutedMethod]) -> list[JwtExemption]:
    """The routes of public RPCs: their gRPC paths and the REST bindings (method + path).

    Raises ValueError when a public REST binding would also match a request of a binding of
    a non-public RPC (it would let that request through the edge without a token).
    """
    exemptions: list[JwtExemption] = []
    public_bindings: list[tuple[HttpBinding, str]] = []
    for method in methods:
        if not method.public:
            continue
        exemptions.append(JwtExemption(MatchKind.PATH, method.grpc_path))
        for binding in method.bindings:
            public_bindings.append((binding, method.grpc_path))
            if binding.is_literal:
                exemptions.append(JwtExemption(MatchKind.PATH, binding.template, binding.verb))
            else:
                exemptions.append(JwtExemption(MatchKind.REGEX, binding.path_regex, binding.verb))
    for method in methods:
        if method.public:
            continue
        for binding in method.bindings:
            sample = binding.sample_path()
            for public, public_path in public_bindings:
                if public.verb == binding.verb and re.fullmatch(public.path_regex, sample):
                    raise ValueError(
                        f"public REST binding {public.verb} {public.template} ({public_path}) also matches "
                        f"{binding.verb} {binding.template} of {method.grpc_path}, which needs a token"
                    )
    return list(dict.fromkeys(exemptions))


def edge_jwt(settings: EdgeSettings, api: EdgeApi) -> EdgeJwt | None:
    """The jwt_authn setup when the auth service is behind the edge, else None (no token checks)."""
    if AUTH_PACKAGE not in api.package_owners:
        return None
    jwks = next((m for m in api.methods if m.grpc_path == JWKS_METHOD), None)
    jwks_path = next((b.template for b in jwks.bindings if b.verb == "GET" and b.is_literal), None) if jwks else None
    if jwks is None or not jwks.public or jwks_path is None:
        raise ValueError(f"{JWKS_METHOD} must be public with a literal GET binding for the edge to fetch the JWKS")
    host = _loopback_for(settings.bind_address)
    authority = f"[{host}]" if ":" in host else host
    return EdgeJwt(
        provider=JWT_PROVIDER,
        issuer=ISSUER,
        audiences=(AUDIENCE,),
        jwks_uri=f"http://{authority}:{settings.http_port}{jwks_path}",
        jwks_host=host,
        jwks_port=settings.http_port,
        jwks_cache_seconds=settings.jwks_cache_seconds,
        exemptions=tuple(jwt_exemptions(api.methods)),
    )


# jwt_authn failures, told apart by the failure status it writes into dynamic metadata
# (failed_status_in_metadata): (jwt_authn status message or None for any failure, ErrorInfo
# reason, message). Reasons and messages are the ones the services' own token checks give, so
# a caller sees the same refusal whichever layer refused. First match wins.
JWT_FAILURE_METADATA_KEY = "jwt_failure"
JWT_LOCAL_REPLIES: tuple[tuple[str | None, str, str], ...] = (
    ("Jwt is missing", "CREDENTIALS_MISSING", "this call needs a bearer token"),
    ("Jwt is expired", "TOKEN_EXPIRED", "the access token is not valid: expired"),
    (None, "TOKEN_INVALID", "the access token is not valid"),
)
_UNAUTHENTICATED = 16


@dataclass(frozen=True)
class JwtLocalReply:
    jwt_status: str | None
    reason: str
    message: str

    @property
    def grpc_status_details(self) -> str:
        """The ``grpc-status-details-bin`` value native gRPC callers get: a google.rpc.Status
        (UNAUTHENTICATED, this message, ErrorInfo) as the services send it, base64."""
        status = status_pb2.Status(code=_UNAUTHENTICATED, message=self.message)
        status.details.add().Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN))
        return base64.b64encode(status.SerializeToString()).decode().rstrip("=")


def jwt_local_replies() -> list[JwtLocalReply]:
    return [JwtLocalReply(*entry) for entry in JWT_LOCAL_REPLIES]


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
    site: StaticSite | None = None,
    template_dir: Path = DEFAULT_TEMPLATE_DIR,
    template_name: str = DEFAULT_TEMPLATE_NAME,
) -> str:
    """Render the Envoy bootstrap for ``upstreams`` behind the edge described by ``settings``,
    and the static pages of ``site`` (the OpenAPI document and reference) when given."""
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
    context = _context(settings, upstreams, api)
    context["site"] = site
    context["site_routes"] = (
        [("path", p) for p in site.paths] + [("prefix", p) for p in site.prefixes] if site is not None else []
    )
    return template.render(**context)


def _context(settings: EdgeSettings, upstreams: Sequence[Upstream], api: EdgeApi) -> dict[str, Any]:
    return {
        "jwt": edge_jwt(settings, api),
        "jwt_failure_key": JWT_FAILURE_METADATA_KEY,
        "jwt_local_replies": jwt_local_replies(),
        "settings": settings,
        "upstreams": list(upstreams),
        "api": api,
        "services": _unique(api.all_services),
        "tenant_header": TENANT_HEADER,
        "client_address_header": CLIENT_ADDRESS_HEADER,
        "error_domain": ERROR_DOMAIN,
        "local_replies": LOCAL_REPLIES,
        "cors_allow_methods": "GET, POST, PATCH, DELETE, OPTIONS",
        "cors_allow_headers": "authorization, content-type, x-tenant-id, x-request-id, traceparent",
        "cors_expose_headers": "x-request-id, grpc-status, grpc-message",
    }


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
