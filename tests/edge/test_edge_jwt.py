"""Access tokens checked at the edge: Envoy jwt_authn in front of the real platform.

Tenants + auth run in-process with token authentication (tests/support/platform.py); a
real Envoy fetches the JWKS from the auth service through its own listener, exempts the
public RPCs (derived from the protos' access policies) and refuses everything else without
a valid token: 401 JSON for REST, UNAUTHENTICATED for native gRPC. The services verify
again behind it (zero trust); the isolation matrix covers that.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest
import yaml
from google.rpc import error_details_pb2, status_pb2
from tenantmesh.auth.v1 import admin_service_pb2, auth_service_pb2, auth_service_pb2_grpc
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_service_pb2, tenant_service_pb2_grpc

from services.mesh.devtls import DevTls
from services.mesh.edge import (
    DEFAULT_DESCRIPTOR_PATH,
    TOKEN_TENANT_HEADER,
    EdgeMeshTls,
    EdgeSettings,
    HttpBinding,
    MatchKind,
    RoutedMethod,
    Upstream,
    jwt_exemptions,
    load_edge_api,
    render_envoy_config,
)
from services.mesh.envoy_process import validate_config
from services.mesh.runner import upstreams_for
from services.mesh.static_site import StaticServer
from services.runtime.auth.claims import ALGORITHM
from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.errors import expect_error
from tests.support.isolation import claims_of, expired_like, hs256_with_public_key, public_key_pem, tampered, unsigned
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform, bearer, platform

from .conftest import EdgeFactory, RunningEdge, edge_tls_of

pytestmark = pytest.mark.edge

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
MESH_UPSTREAMS = [
    Upstream("tenants", "127.0.0.1", 50051, ("tenantmesh.meta.v1", "tenantmesh.tenants.v1")),
    Upstream("auth", "127.0.0.1", 50052, ("tenantmesh.auth.v1",)),
]


@pytest.fixture(scope="module")
async def mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    data_dir = tmp_path_factory.mktemp("jwt-platform")
    # As deployed: Envoy reaches the services over mesh TLS, and they believe its view of the client.
    async with platform(f"sqlite+aiosqlite:///{data_dir / 'core.db'}", data_dir, mesh_tls=True) as running:
        yield running


@pytest.fixture(scope="module")
async def edge(module_edge_factory: EdgeFactory, mesh: Platform) -> RunningEdge:
    return await module_edge_factory(
        upstreams_for(mesh.started, mesh.runtime.settings),
        mesh_tls=mesh_edge_tls(mesh),
    )


def mesh_edge_tls(mesh: Platform) -> EdgeMeshTls:
    return edge_tls_of(mesh, mesh.runtime.settings.data_dir)


@pytest.fixture(scope="module")
async def admin_token(mesh: Platform) -> str:
    return (await mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)).access_token


def auth_header(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_edge_refusal(response: httpx.Response, reason: str) -> None:
    """A 401 jwt_authn answered itself (the services never add www-authenticate)."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"].startswith("Bearer ")
    body = response.json()
    assert body["code"] == 16
    # The services' ErrorInfo as the transcoder prints it (empty metadata included): one shape.
    assert body["details"] == [{"@type": ERROR_INFO, "reason": reason, "domain": "tenantmesh.dev", "metadata": {}}]


async def access_log_entries(edge: RunningEdge, request_id: str) -> list[dict[str, Any]]:
    """The access log lines of one request (the log is flushed every 100 ms)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if edge.access_log.exists():
            lines = [json.loads(line) for line in edge.access_log.read_text().splitlines() if line.strip()]
            found = [line for line in lines if line.get("request_id") == request_id]
            if found:
                return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"request {request_id} not in the access log")


# --------------------------------------------------------------------------- config


def _config(settings: EdgeSettings, upstreams: list[Upstream]) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(render_envoy_config(settings, upstreams))
    return config


def _http_filters(config: dict[str, Any]) -> list[dict[str, Any]]:
    listener = config["static_resources"]["listeners"][0]
    filters: list[dict[str, Any]] = listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
    return filters


async def test_config_with_auth_validates_and_exempts_only_public_rpcs(tmp_path: Path, dev_tls: DevTls) -> None:
    settings = EdgeSettings(tls_cert_file=dev_tls.cert, tls_key_file=dev_tls.key, http_port=18080)
    path = tmp_path / "envoy.yaml"
    path.write_text(render_envoy_config(settings, MESH_UPSTREAMS))
    await validate_config(path)

    config = _config(settings, MESH_UPSTREAMS)
    names = [f["name"] for f in _http_filters(config)]
    assert names.index("envoy.filters.http.jwt_authn") < names.index("envoy.filters.http.grpc_json_transcoder")
    assert names.index("envoy.filters.http.jwt_authn") < names.index("envoy.filters.http.local_ratelimit")
    jwt_authn = next(f for f in _http_filters(config) if f["name"] == "envoy.filters.http.jwt_authn")["typed_config"]
    provider = jwt_authn["providers"]["tenantmesh"]
    # The issuer is the platform's public URL (the services' default for the default ports).
    assert provider["issuer"] == "https://localhost:8443"
    assert provider["audiences"] == ["tenantmesh"]
    assert provider["forward"] is True
    remote = provider["remote_jwks"]
    assert remote["http_uri"]["uri"] == "http://127.0.0.1:18080/.well-known/jwks.json"
    assert remote["cache_duration"] == "300s"
    assert remote["async_fetch"]["fast_listener"] is True

    rules = jwt_authn["rules"]
    # Everything not listed before the catch-all needs a token; the listed rules need nothing.
    assert rules[-1] == {"match": {"prefix": "/"}, "requires": {"provider_name": "tenantmesh"}}
    # Before it: a gRPC content type with another method than POST, which the edge answers itself.
    # (jwt_authn ignores `grpc: {}` in a rule: a GET /v1/tenants slipped through with it.)
    assert rules[-2] == {
        "match": {
            "prefix": "/",
            "headers": [
                {"name": "content-type", "string_match": {"safe_regex": {"regex": "application/grpc(\\+.*)?"}}},
                {"name": ":method", "string_match": {"exact": "POST"}, "invert_match": True},
            ],
        }
    }
    exempt = rules[:-2]
    assert all("requires" not in rule for rule in exempt)
    exempt_paths = {rule["match"].get("path") for rule in exempt}
    assert {
        "/tenantmesh.auth.v1.AuthService/Login",
        "/tenantmesh.auth.v1.AuthService/GetJwks",
        "/tenantmesh.meta.v1.MetaService/GetServerInfo",
        "/v1/auth:login",
        "/.well-known/jwks.json",
        "/v1/meta/server-info",
    } <= exempt_paths
    # Derived from the access policies: exactly the public RPCs, two rules each (gRPC + REST).
    api = load_edge_api(DEFAULT_DESCRIPTOR_PATH, MESH_UPSTREAMS)
    public = [m for m in api.methods if m.public]
    assert len(exempt) == sum(1 + len(m.bindings) for m in public)
    assert not any(path and ("Logout" in path or "/v1/tenants" in path or "/v1/users" in path) for path in exempt_paths)
    # Every exemption names its HTTP method: a native gRPC path's is POST.
    assert all(rule["match"]["headers"][0]["name"] == ":method" for rule in exempt)
    grpc_rules = [rule for rule in exempt if rule["match"].get("path", "").startswith("/tenantmesh.")]
    assert grpc_rules
    assert all(
        rule["match"]["headers"] == [{"name": ":method", "string_match": {"exact": "POST"}}] for rule in grpc_rules
    )


def test_no_token_checks_without_the_auth_upstream(tmp_path: Path) -> None:
    settings = EdgeSettings(tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k")
    config = _config(settings, MESH_UPSTREAMS[:1])
    assert "envoy.filters.http.jwt_authn" not in [f["name"] for f in _http_filters(config)]
    assert "_edge_jwks" not in {c["name"] for c in config["static_resources"]["clusters"]}


def test_public_binding_shadowing_a_protected_one_is_refused() -> None:
    methods = [
        RoutedMethod("/x.v1.S/Open", public=True, bindings=(HttpBinding("GET", "/v1/things/{id}"),)),
        RoutedMethod("/x.v1.S/Secret", public=False, bindings=(HttpBinding("GET", "/v1/things/secret"),)),
    ]
    with pytest.raises(ValueError, match="/v1/things/secret"):
        jwt_exemptions(methods)
    # Same path, another HTTP method: no conflict (rules match on :method too).
    methods[1] = RoutedMethod("/x.v1.S/Secret", public=False, bindings=(HttpBinding("DELETE", "/v1/things/{id}"),))
    rules = jwt_exemptions(methods)
    # A public RPC's native gRPC path is exempt for a gRPC call (POST) only.
    assert [(r.kind, r.http_method) for r in rules] == [(MatchKind.PATH, "POST"), (MatchKind.REGEX, "GET")]


# --------------------------------------------------------------------------- REST


async def test_login_over_rest_then_call_with_the_token(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        login = await client.post(
            "/v1/auth:login", json={"tenant": "platform", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        tokens = login.json()["tokens"]
        assert tokens["tokenType"] == "Bearer"
        listed = await client.get("/v1/tenants", headers=auth_header(tokens["accessToken"]))
        assert listed.status_code == 200, listed.text
        assert "platform" in [t["slug"] for t in listed.json()["tenants"]]
        me = await client.get("/v1/auth/me", headers=auth_header(tokens["accessToken"]))
        assert me.status_code == 200, me.text
        assert me.json()["tenantId"] == PLATFORM_TENANT_ID


async def test_the_client_address_is_the_edges_view_not_the_callers_claim(
    edge: RunningEdge, mesh: Platform, admin_token: str
) -> None:
    # Lockout per address and the audit log key on it: a caller must not be able to pick it.
    request_id = f"spoof-{uuid.uuid4().hex}"
    spoofed = {
        "x-request-id": request_id,
        "x-tenantmesh-client-address": "203.0.113.7",
        "x-envoy-external-address": "203.0.113.8",
        "x-forwarded-for": "203.0.113.9",
    }
    async with edge.https_client() as client:
        failed = await client.post(
            "/v1/auth:login",
            json={"tenant": "platform", "email": "nobody@example.test", "password": "not-the-password-1"},
            headers=spoofed,
        )
    assert failed.status_code == 401, failed.text
    audit = await mesh.admin_stub("AuditService").ListPlatformAuditEvents(
        admin_service_pb2.ListPlatformAuditEventsRequest(action_prefix="auth.login.failed", page_size=500),
        metadata=bearer(admin_token),
    )
    [entry] = [e for e in audit.audit_events if e.request_id == request_id]
    assert entry.client_address == "127.0.0.1"  # the test's own connection to the edge


@pytest.mark.parametrize("request_id", ["not a plain id", "<script>", "x" * 129, "a;b=c"])
async def test_a_request_id_the_services_refuse_is_replaced_at_the_edge(
    edge: RunningEdge, mesh: Platform, admin_token: str, request_id: str
) -> None:
    """The services take a caller's x-request-id only as a plain token of at most 128
    characters, else mint their own: the edge kept it anyway, so the id it logged and returned
    named no audit record nor service log line. It replaces such an id as well."""
    marker = f"h6-{uuid.uuid4().hex}@example.test"
    async with edge.https_client() as client:
        failed = await client.post(
            "/v1/auth:login",
            json={"tenant": "platform", "email": marker, "password": "not-the-password-1"},
            headers={"x-request-id": request_id},
        )
    assert failed.status_code == 401, failed.text
    returned = failed.headers["x-request-id"]
    assert returned != request_id
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", returned), returned
    audit = await mesh.admin_stub("AuditService").ListPlatformAuditEvents(
        admin_service_pb2.ListPlatformAuditEventsRequest(action_prefix="auth.login.failed", page_size=500),
        metadata=bearer(admin_token),
    )
    assert returned in [e.request_id for e in audit.audit_events]
    (entry,) = await access_log_entries(edge, returned)
    assert entry["path"] == "/v1/auth:login"


async def test_missing_token_is_refused_at_the_edge(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.get("/v1/tenants", headers={"x-request-id": (request_id := f"jwt-{uuid.uuid4()}")})
        assert_edge_refusal(response, "CREDENTIALS_MISSING")
        assert response.json()["message"] == "this call needs a bearer token"
        # Unknown paths, odd methods and gRPC paths over HTTP/1.1 need a token too.
        for method, path in [
            ("GET", "/v1/nowhere"),
            ("PUT", "/v1/auth:login"),
            ("POST", "/v1/auth/me"),
            ("POST", "/tenantmesh.auth.v1.AuthService/GetMe"),
        ]:
            assert_edge_refusal(await client.request(method, path), "CREDENTIALS_MISSING")
        # "bearer" in another place (query parameter) is not read.
        assert_edge_refusal(await client.get("/v1/tenants?access_token=x"), "CREDENTIALS_MISSING")
    (entry,) = await access_log_entries(edge, request_id)
    assert entry["status"] == 401
    assert entry["details"] == "jwt_authn_access_denied{Jwt_is_missing}"


@pytest.mark.parametrize(
    "kind", ["garbage", "expired", "alg_none", "hs256", "tampered", "audience", "service_audience", "issuer"]
)
async def test_bad_tokens_are_refused_at_the_edge(
    edge: RunningEdge, mesh: Platform, admin_token: str, kind: str
) -> None:
    key = await mesh.auth_app.keys.active()
    claims = claims_of(admin_token)
    forged: dict[str, Callable[[], str]] = {
        "garbage": lambda: "not-a-jwt",
        "tampered": lambda: tampered(admin_token, tid=str(uuid.uuid4())),
        "alg_none": lambda: unsigned(admin_token),
        "audience": lambda: jwt.encode(
            {**claims, "aud": "someone-else"}, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}
        ),
        # A token for a registered service (IssueServiceToken) is not one for the platform.
        "service_audience": lambda: jwt.encode(
            {**claims, "aud": "tenantmesh:service:billing"},
            key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": key.kid},
        ),
        "issuer": lambda: jwt.encode(
            {**claims, "iss": "someone-else"}, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}
        ),
    }
    if kind == "expired":
        token = await expired_like(mesh, admin_token)
    elif kind == "hs256":
        token = hs256_with_public_key(admin_token, await public_key_pem(mesh))
    else:
        token = forged[kind]()
    async with edge.https_client() as client:
        response = await client.get("/v1/tenants", headers=auth_header(token))
    assert_edge_refusal(response, "TOKEN_EXPIRED" if kind == "expired" else "TOKEN_INVALID")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_valid_token_on_an_unknown_route_is_not_found(edge: RunningEdge, admin_token: str) -> None:
    async with edge.https_client() as client:
        response = await client.get("/v1/nowhere", headers=auth_header(admin_token))
    assert response.status_code == 404, response.text
    assert response.json()["details"][0]["reason"] == "ROUTE_NOT_FOUND"


async def test_public_routes_need_no_token(edge: RunningEdge, mesh: Platform) -> None:
    async with edge.https_client() as client:
        jwks = await client.get("/.well-known/jwks.json")
        assert jwks.status_code == 200, jwks.text
        kids = {key["kid"] for key in jwks.json()["keys"]}
        assert (await mesh.auth_app.keys.active()).kid in kids
        assert {key["alg"] for key in jwks.json()["keys"]} == {"ES256"}

        info = await client.get("/v1/meta/server-info")
        assert info.status_code == 200, info.text

        login = await client.post(
            "/v1/auth:login", json={"tenant": "platform", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        # A public RPC's own refusal comes from the service, not the edge.
        refresh = await client.post("/v1/auth:refresh", json={"refreshToken": "tmr_" + "x" * 40})
        assert refresh.status_code == 401
        assert "www-authenticate" not in refresh.headers
        assert refresh.json()["details"][0]["reason"] != "CREDENTIALS_MISSING"


async def test_preflight_needs_no_token(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.options(
            "/v1/tenants",
            headers={"origin": "https://localhost:8443", "access-control-request-method": "GET"},
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://localhost:8443"


# --------------------------------------------------------------------------- native gRPC


async def test_native_grpc_through_the_edge(edge: RunningEdge, admin_token: str) -> None:
    channel = edge.grpc_plain_channel()
    try:
        tenants: Any = tenant_service_pb2_grpc.TenantServiceStub(channel)
        error = await expect_error(
            tenants.ListTenants(tenant_service_pb2.ListTenantsRequest()),
            grpc.StatusCode.UNAUTHENTICATED,
            "CREDENTIALS_MISSING",
        )
        assert error.details() == "this call needs a bearer token"
        await expect_error(
            tenants.ListTenants(tenant_service_pb2.ListTenantsRequest(), metadata=bearer("not-a-jwt")),
            grpc.StatusCode.UNAUTHENTICATED,
            "TOKEN_INVALID",
        )
        listed = await tenants.ListTenants(tenant_service_pb2.ListTenantsRequest(), metadata=bearer(admin_token))
        assert any(t.slug == "platform" for t in listed.tenants)

        # Public RPCs answer without a token.
        meta: Any = meta_service_pb2_grpc.MetaServiceStub(channel)
        assert (await meta.GetServerInfo(meta_service_pb2.GetServerInfoRequest())).product == "tenantmesh"
        auth: Any = auth_service_pb2_grpc.AuthServiceStub(channel)
        assert (await auth.GetJwks(auth_service_pb2.GetJwksRequest())).keys
        login = await auth.Login(
            auth_service_pb2.LoginRequest(tenant="platform", email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        )
        assert login.tokens.access_token
    finally:
        await channel.close()


def assert_grpc_method_refused(response: httpx.Response) -> None:
    """The edge's own answer to a gRPC content type with another method than POST: a trailers-only
    gRPC reply, UNIMPLEMENTED with the ErrorInfo the REST 405 carries."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/grpc"
    assert response.headers["grpc-status"] == "12", dict(response.headers)
    if response.request.method != "HEAD":
        assert response.headers["grpc-message"] == "a gRPC call is an HTTP POST: no other method is answered"
    encoded = response.headers["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert status.code == 12
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("METHOD_NOT_ALLOWED", "tenantmesh.dev")


@pytest.mark.parametrize("console", [False, True])
async def test_grpc_paths_answer_post_only(
    edge_factory: EdgeFactory, mesh: Platform, admin_token: str, console: bool
) -> None:
    """A gRPC content type with GET, HEAD, PUT... is answered by the edge, token or not: it never
    reaches a service (which reset the stream: an Envoy "upstream connect error", reads retried,
    the host counted as failing) nor slips past the token check through the console's public
    GET/HEAD rule (reflection included)."""
    static = StaticServer({}).start()
    try:
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            mesh_tls=mesh_edge_tls(mesh),
            site=static.site(console=console),
        )
        grpc_headers = {"content-type": "application/grpc", "te": "trailers"}
        paths = [
            "/tenantmesh.tenants.v1.TenantService/ListTenants",
            "/tenantmesh.auth.v1.AuthService/Login",  # public: exempt for POST only
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ]
        async with edge.http_client() as client:
            for path in paths:
                for method in ("GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"):
                    for token in (None, admin_token):
                        request_id = f"grpc-method-{uuid.uuid4()}"
                        headers = {**grpc_headers, "x-request-id": request_id}
                        if token is not None:
                            headers.update(auth_header(token))
                        response = await client.request(method, path, headers=headers, content=b"")
                        assert_grpc_method_refused(response)
                        (entry,) = await access_log_entries(edge, request_id)
                        assert entry["upstream_cluster"] is None, entry
            # A gRPC call (POST) is unchanged: a protected method still needs a token.
            refused = await client.post(paths[0], headers=grpc_headers, content=b"\x00\x00\x00\x00\x00")
            assert refused.headers["grpc-status"] == "16"
            assert refused.headers["grpc-message"] == "this call needs a bearer token"
            if console:
                # The console's pages are still public (a page, not the API's answer).
                page = await client.get("/tenants/anything")
                assert page.headers.get("grpc-status") is None
                assert page.status_code != 401
    finally:
        static.stop()


# --------------------------------------------------------------------------- tenant of the token


async def test_token_tenant_header_comes_from_the_token_only(edge: RunningEdge, admin_token: str) -> None:
    spoofed, verified = f"spoof-{uuid.uuid4()}", f"verified-{uuid.uuid4()}"
    async with edge.http_client() as client:
        headers = {TOKEN_TENANT_HEADER: str(uuid.uuid4()), "x-request-id": spoofed}
        assert (await client.get("/v1/meta/server-info", headers=headers)).status_code == 200
        headers = {**auth_header(admin_token), TOKEN_TENANT_HEADER: str(uuid.uuid4()), "x-request-id": verified}
        assert (await client.get("/v1/tenants", headers=headers)).status_code == 200
    (public_entry,) = await access_log_entries(edge, spoofed)
    assert public_entry["token_tenant_id"] is None
    (verified_entry,) = await access_log_entries(edge, verified)
    assert verified_entry["token_tenant_id"] == PLATFORM_TENANT_ID


async def test_tenant_rate_limit_keys_on_the_token(edge_factory: EdgeFactory, mesh: Platform, admin_token: str) -> None:
    rps = 3
    limited = await edge_factory(
        upstreams_for(mesh.started, mesh.runtime.settings), mesh_tls=mesh_edge_tls(mesh), per_tenant_rate_limit_rps=rps
    )
    async with limited.http_client() as client:
        # A token's tenant has one bucket, whatever x-tenant-id the caller names.
        responses = [
            await client.get("/v1/tenants", headers={**auth_header(admin_token), "x-tenant-id": str(uuid.uuid4())})
            for _ in range(3 * rps)
        ]
        codes = [r.status_code for r in responses]
        assert 429 in codes, codes
        # Envoy's other replies keep their own shape with jwt_authn in the chain.
        rejected = next(r for r in responses if r.status_code == 429)
        assert rejected.json()["details"][0]["reason"] == "RATE_LIMITED"
        # Naming that tenant without a token draws from another bucket: it cannot drain the
        # verified one (nor is it drained by it).
        await asyncio.sleep(1.1)
        anonymous = [
            (await client.get("/v1/meta/server-info", headers={"x-tenant-id": PLATFORM_TENANT_ID})).status_code
            for _ in range(3 * rps)
        ]
        assert 429 in anonymous, anonymous
        verified = await client.get("/v1/tenants", headers=auth_header(admin_token))
        assert verified.status_code == 200, verified.text


# --------------------------------------------------------------------------- key rotation (last: it rotates)


async def test_rotated_key_is_trusted_after_the_next_jwks_fetch(
    edge: RunningEdge, edge_factory: EdgeFactory, mesh: Platform, admin_token: str
) -> None:
    """Envoy 1.40 does not refetch the JWKS on an unknown `kid`: a token of a freshly rotated
    key is refused until the cached JWKS is refreshed (jwks_cache_seconds)."""
    quick = await edge_factory(
        upstreams_for(mesh.started, mesh.runtime.settings), mesh_tls=mesh_edge_tls(mesh), jwks_cache_seconds=2
    )
    keys: Any = mesh.admin_stub("SigningKeyService")
    rotated = await keys.RotateSigningKey(admin_service_pb2.RotateSigningKeyRequest(), metadata=bearer(admin_token))
    token = (await mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)).access_token
    assert jwt.get_unverified_header(token)["kid"] == rotated.kid

    async with edge.http_client() as client:
        # The long-cached edge does not know the key yet...
        assert_edge_refusal(await client.get("/v1/tenants", headers=auth_header(token)), "TOKEN_INVALID")
        # ...while tokens of the previous key (still published) keep working.
        assert (await client.get("/v1/tenants", headers=auth_header(admin_token))).status_code == 200
    async with quick.http_client() as client:
        deadline = time.monotonic() + 10
        while (response := await client.get("/v1/tenants", headers=auth_header(token))).status_code != 200:
            assert time.monotonic() < deadline, response.text
            await asyncio.sleep(0.2)
