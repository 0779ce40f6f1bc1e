"""Token checks at the edge: Envoy jwt_authn with the auth service's JWKS, public RPCs exempt."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.mesh.edge.config import EdgeSettings
from services.mesh.edge.routes import EdgeApi, HttpBinding, MatchKind, RoutedMethod
from services.runtime.auth.claims import AUDIENCE
from services.runtime.auth.verifier import ISSUED_AHEAD_LEEWAY_SECONDS
from services.runtime.interceptors.identity import TOKEN_TENANT_HEADER

# The edge verifies access tokens (Envoy jwt_authn) when the auth service is one of its
# upstreams: the JWKS comes from that service's GetJwks, through the edge's own listener.
AUTH_PACKAGE = "tenantmesh.auth.v1"
JWKS_METHOD = "/tenantmesh.auth.v1.AuthService/GetJwks"
JWT_PROVIDER = "tenantmesh"
# The verified token's tenant claim, written by jwt_authn; the per-tenant rate limit keys on
# it. Any copy a caller sends is removed before the filters run.
TOKEN_TENANT_CLAIM = "tid"  # noqa: S105 - a claim name
# Cluster of the edge's own plain listener, which Envoy fetches the JWKS through. Upstream
# names cannot start with "_", so it never collides with one.
JWKS_CLUSTER = "_edge_jwks"
# Envoy has one leeway for expiry and issue time; it takes the services' allowance for an
# issuer whose clock runs ahead (services/runtime/auth/verifier.py), so a token the services
# accept is not refused here. Expiry stays tight: the services behind check it to 10 s.
JWT_CLOCK_SKEW_SECONDS = ISSUED_AHEAD_LEEWAY_SECONDS
# The HTTP method of every gRPC call.
GRPC_HTTP_METHOD = "POST"


@dataclass(frozen=True)
class JwtExemption:
    """A request that jwt_authn lets through without a token: one public RPC's route."""

    kind: MatchKind  # PATH (gRPC path or literal REST path) or REGEX (REST template)
    value: str
    # HTTP method of the request: the REST binding's, or POST for a native gRPC path (a gRPC
    # call is a POST; any other method there is the edge's to answer, not exempt as a call).
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
        exemptions.append(JwtExemption(MatchKind.PATH, method.grpc_path, GRPC_HTTP_METHOD))
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
        issuer=settings.issuer,
        audiences=(AUDIENCE,),
        jwks_uri=f"http://{authority}:{settings.http_port}{jwks_path}",
        jwks_host=host,
        jwks_port=settings.http_port,
        jwks_cache_seconds=settings.jwks_cache_seconds,
        exemptions=tuple(jwt_exemptions(api.methods)),
    )
