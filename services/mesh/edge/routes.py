"""The edge's routes, derived from the descriptor set.

The edge routes only what the protos say is public: an upstream lists the proto
packages it serves, and the REST routes are derived from the ``google.api.http``
rules of those packages' services in the descriptor set Envoy transcodes with.
A package that no upstream serves (e.g. ``tenantmesh.lifecycle.v1``, internal
only) gets no route at all, neither REST nor native gRPC.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2
from tenantmesh.type.v1 import access_pb2

from services.mesh.edge.config import Upstream

# The extension handle, typed loosely: the generated module is not type-checked.
_ACCESS: Any = access_pb2.access


# Served by every process; the edge sends it to the first service.
# Server reflection (grpcurl, buf curl) goes where GetServerInfo goes: every process answers both
# for the whole mesh's public API (services/runtime/server.py). Only v1alpha: grpcio-reflection
# serves no other, and clients fall back to it when v1 is UNIMPLEMENTED (Envoy's answer).
META_PACKAGE = "tenantmesh.meta.v1"
REFLECTION_PREFIX = "/grpc.reflection.v1alpha.ServerReflection/"

# The response type of methods answering raw bytes (the transcoder sends its data as the body).
HTTP_BODY_TYPE = ".google.api.HttpBody"

# How CORS preflight answers list the methods (any custom verb follows, sorted).
_VERB_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")


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
    # True for the routes of streaming methods: no route timeout.
    streaming: bool = False
    # True for uploads (client-streaming methods): the body streams through to the service in
    # chunks, not read whole under the REST body limit.
    unbuffered: bool = False


@dataclass(frozen=True)
class MethodRoute:
    """The REST bindings of one path shape: requests whose path matches ``regex`` go to
    ``cluster`` with one of ``verbs``; any other HTTP method is answered 405 with ``Allow``."""

    regex: str  # RE2, whole path
    verbs: tuple[str, ...]
    cluster: str
    streaming: bool = False
    unbuffered: bool = False
    # The literal start every path of the shape has: Envoy compares it before trying the regex,
    # so a request meets only the regexes of its own resource (a scan of every shape's regex
    # halved the throughput of a trivial route; tests/bench/bench_edge_routes.py).
    prefix: str = "/"

    @property
    def path_header_regex(self) -> str:
        """``regex`` for the ``:path`` header, which carries the query string too."""
        return f"{self.regex}(\\?.*)?"

    @property
    def verbs_regex(self) -> str:
        return "|".join(re.escape(verb) for verb in self.verbs)

    @property
    def allow(self) -> str:
        return ", ".join(self.verbs)


@dataclass(frozen=True)
class GrpcRoute:
    """A native gRPC route (also what transcoded REST requests re-match)."""

    kind: MatchKind  # PREFIX "/<package>." or PATH "/<service>/<method>"
    value: str
    cluster: str
    streaming: bool = False
    # A read (bound to HTTP GET): safe to send again, so a call cut by its host dying is retried
    # on another host of the cluster.
    idempotent: bool = False
    # Answers raw bytes (google.api.HttpBody: a stored file, an export): REST callers get it as a
    # download (transcoded REST calls end on these routes).
    http_body: bool = False
    # A public read (keys, discovery, server info): the same answer for everyone, which caches
    # may keep; every other answer is someone's and is kept by none.
    shared: bool = False


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
    # "/<service>/<method>" of every routed streaming method (server or client streaming).
    streaming_methods: tuple[str, ...] = ()
    # Every routed RPC, in descriptor order.
    methods: tuple[RoutedMethod, ...] = ()
    # Upstream (cluster) name per routed proto package.
    package_owners: dict[str, str] = field(default_factory=dict)
    # One per path shape of the REST bindings, most specific first (the order Envoy tries them).
    method_routes: tuple[MethodRoute, ...] = ()

    @property
    def all_services(self) -> tuple[str, ...]:
        return tuple(s for names in self.services.values() for s in names)

    @property
    def http_verbs(self) -> tuple[str, ...]:
        """Every HTTP method a REST binding answers, plus OPTIONS (CORS preflights), in a stable order."""
        declared = {binding.verb for method in self.methods for binding in method.bindings}
        usual = [verb for verb in _VERB_ORDER if verb in declared]
        return (*usual, *sorted(declared - set(_VERB_ORDER)), "OPTIONS")


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


def _is_read(method: descriptor_pb2.MethodDescriptorProto, rule: http_pb2.HttpRule) -> bool:
    """A unary method bound to GET: the API's reads (AIP-131/132), without side effects, so the
    edge may send one again. Streams are not: part of the answer may already have gone out."""
    if method.server_streaming or method.client_streaming:
        return False
    return any(binding.verb == "GET" for binding in http_bindings(rule))


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
    streaming_rest: dict[tuple[MatchKind, str], tuple[str, bool]] = {}
    streaming_methods: list[tuple[str, str]] = []
    read_methods: list[tuple[str, str, bool]] = []
    http_body_methods: list[tuple[str, str]] = []
    methods: list[RoutedMethod] = []
    shapes: dict[str, _PathShape] = {}

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
                if method.server_streaming or method.client_streaming:
                    streaming_methods.append((f"/{full_name}/{method.name}", cluster))
                if method.output_type == HTTP_BODY_TYPE:
                    http_body_methods.append((f"/{full_name}/{method.name}", cluster))
                if rule is None:
                    continue
                if _is_read(method, rule):
                    read_methods.append((f"/{full_name}/{method.name}", cluster, is_public(method)))
                for binding in http_bindings(rule):
                    shape = shapes.setdefault(binding.path_regex, _PathShape(binding.template, cluster))
                    shape.add(binding.verb, method)
                for template in _http_paths(rule):
                    prefix = literal_prefix(template)
                    previous = prefix_owner.setdefault(prefix, cluster)
                    if previous != cluster:
                        raise ValueError(
                            f"REST prefix {prefix} ({full_name}.{method.name}) is claimed by "
                            f"both {previous} and {cluster}"
                        )
                    if method.server_streaming or method.client_streaming:
                        if "{" in template or "*" in template:
                            key = (MatchKind.REGEX, template_regex(template))
                        else:
                            key = (MatchKind.PATH, template)
                        streaming_rest[key] = (cluster, method.client_streaming)

    rest: list[RestRoute] = [
        RestRoute(kind, value, cluster, streaming=True, unbuffered=upload)
        for (kind, value), (cluster, upload) in sorted(streaming_rest.items(), key=lambda kv: (-len(kv[0][1]), kv[0]))
    ]
    rest.extend(
        RestRoute(MatchKind.PREFIX, prefix, cluster)
        for prefix, cluster in sorted(prefix_owner.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    )

    return EdgeApi(
        rest_routes=tuple(rest),
        grpc_routes=_grpc_routes(streaming_methods, read_methods, owner_of_package, http_body_methods),
        services={name: tuple(sorted(found)) for name, found in services.items()},
        streaming_methods=tuple(path for path, _ in sorted(streaming_methods)),
        methods=tuple(methods),
        package_owners=dict(owner_of_package),
        method_routes=_method_routes(shapes),
    )


def _grpc_routes(
    streaming_methods: Sequence[tuple[str, str]],
    read_methods: Sequence[tuple[str, str, bool]],
    owner_of_package: dict[str, str],
    http_body_methods: Sequence[tuple[str, str]] = (),
) -> tuple[GrpcRoute, ...]:
    """Exact routes first (streams, reads, other raw-byte answers), then reflection and one
    prefix per package. ``read_methods`` are (path, cluster, public): public reads' answers are
    shared."""
    raw = {path for path, _ in http_body_methods}
    grpc = [
        GrpcRoute(MatchKind.PATH, path, cluster, streaming=True, http_body=path in raw)
        for path, cluster in sorted(streaming_methods)
    ]
    grpc.extend(
        GrpcRoute(MatchKind.PATH, path, cluster, idempotent=True, http_body=path in raw, shared=public)
        for path, cluster, public in sorted(read_methods)
    )
    exact = {route.value for route in grpc}
    grpc.extend(
        GrpcRoute(MatchKind.PATH, path, cluster, http_body=True)
        for path, cluster in sorted(http_body_methods)
        if path not in exact
    )
    if META_PACKAGE in owner_of_package:
        grpc.append(GrpcRoute(MatchKind.PREFIX, REFLECTION_PREFIX, owner_of_package[META_PACKAGE], streaming=True))
    grpc.extend(
        GrpcRoute(MatchKind.PREFIX, f"/{package}.", cluster)
        for package, cluster in sorted(owner_of_package.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    )
    return tuple(grpc)


@dataclass
class _PathShape:
    """The bindings that share one path regex (``/v1/tenants/{tenant_id}`` and
    ``/v1/tenants/{tenant.tenant_id}`` are one shape)."""

    template: str
    cluster: str
    verbs: set[str] = field(default_factory=set)
    streaming: bool = False
    unbuffered: bool = False

    def add(self, verb: str, method: descriptor_pb2.MethodDescriptorProto) -> None:
        self.verbs.add(verb)
        self.streaming |= method.server_streaming or method.client_streaming
        self.unbuffered |= method.client_streaming


def _literal_length(template: str) -> int:
    return len(re.sub(r"\{[^}]*\}|\*", "", template))


def _method_routes(shapes: dict[str, _PathShape]) -> tuple[MethodRoute, ...]:
    # A path matching several shapes belongs to the one with the most literal text:
    # "/v1/tenants/x:suspend" is {tenant_id}:suspend's, although {tenant_id} alone matches it
    # too (a variable's segment may hold a colon). tests/unit/test_edge_routes.py checks every
    # binding's own paths reach their shape first.
    ordered = sorted(shapes.items(), key=lambda item: (-_literal_length(item[1].template), item[0]))
    return tuple(
        MethodRoute(
            regex=regex,
            verbs=tuple(sorted(shape.verbs, key=_verb_order)),
            cluster=shape.cluster,
            streaming=shape.streaming,
            unbuffered=shape.unbuffered,
            prefix=literal_prefix(shape.template),
        )
        for regex, shape in ordered
    )


def _verb_order(verb: str) -> tuple[int, str]:
    return (_VERB_ORDER.index(verb) if verb in _VERB_ORDER else len(_VERB_ORDER), verb)


def rest_routes(descriptor_path: Path, upstreams: Sequence[Upstream]) -> list[RestRoute]:
    """REST routes of ``upstreams``: streaming methods' exact routes, then literal
    prefixes, longest first (the order Envoy must try them in)."""
    return list(load_edge_api(descriptor_path, upstreams).rest_routes)


def grpc_services(descriptor_path: Path, upstreams: Sequence[Upstream]) -> dict[str, tuple[str, ...]]:
    """Fully-qualified gRPC service names each upstream gets, by upstream name."""
    return load_edge_api(descriptor_path, upstreams).services
