"""Through a real Envoy: REST/JSON and native gRPC, TLS, errors, rate limits, CORS, logs.

Upstreams are in-process grpc.aio servers: the MetaService of conftest and a small
fake TenantService (only GetTenant, to see multi-word JSON field names and a second
cluster). Assertions are on status codes, gRPC codes and error reasons, never on
message text.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import timestamp_pb2
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2, lifecycle_service_pb2_grpc
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from services.mesh.edge import Upstream
from tests.support.ports import free_port

from .conftest import (
    META_PACKAGE,
    META_SERVICE,
    EdgeFactory,
    FakeMetaService,
    GrpcUpstream,
    RunningEdge,
)

pytestmark = pytest.mark.edge

TENANTS_PACKAGE = "tenantmesh.tenants.v1"
TENANT_SERVICE = "tenantmesh.tenants.v1.TenantService"
TENANT_RPS = 5
ALLOWED_ORIGIN = "https://app.example.test"
ONE_MIB = 1024 * 1024
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


class FakeTenantService(tenant_service_pb2_grpc.TenantServiceServicer):
    """GetTenant only; slug "slow" takes longer than any test route timeout."""

    async def GetTenant(
        self,
        request: tenant_service_pb2.GetTenantRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> tenant_service_pb2.GetTenantResponse:
        if request.slug == "slow":
            await asyncio.sleep(5)
        return tenant_service_pb2.GetTenantResponse(
            tenant=tenant_pb2.Tenant(
                tenant_id=request.tenant_id or "0190c2a4-0000-7000-8000-000000000001",
                slug=request.slug or "acme",
                display_name="Acme",
                state=tenant_pb2.TENANT_STATE_ACTIVE,
                create_time=timestamp_pb2.Timestamp(seconds=1_700_000_000),
            )
        )


@pytest.fixture(scope="module")
async def tenants_upstream(grpc_upstream_factory: Callable[..., Any]) -> GrpcUpstream:
    # Only GetTenant is implemented; the other RPCs answer UNIMPLEMENTED (base class).
    servicer = FakeTenantService()  # type: ignore[abstract]
    upstream: GrpcUpstream = await grpc_upstream_factory(
        {TENANT_SERVICE: (tenant_service_pb2_grpc.add_TenantServiceServicer_to_server, servicer)}
    )
    return upstream


@pytest.fixture(scope="module")
async def edge(
    module_edge_factory: EdgeFactory, meta_upstream: GrpcUpstream, tenants_upstream: GrpcUpstream
) -> RunningEdge:
    return await module_edge_factory(
        [
            meta_upstream.upstream("meta", [META_PACKAGE], health_service=META_SERVICE),
            tenants_upstream.upstream("tenants", [TENANTS_PACKAGE], health_service=TENANT_SERVICE),
        ],
        per_tenant_rate_limit_rps=TENANT_RPS,
        cors_allowed_origins=(ALLOWED_ORIGIN,),
    )


def new_tenant_id() -> str:
    """Rate-limit buckets are shared by the whole module: every test uses its own tenants."""
    return str(uuid.uuid4())


def assert_edge_error(response: httpx.Response, status: int, code: int, reason: str) -> None:
    """Envoy's own reply, shaped like a transcoded google.rpc.Status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    # The services' ErrorInfo as the transcoder prints it (empty metadata included): one shape.
    assert body["details"] == [{"@type": ERROR_INFO, "reason": reason, "domain": "tenantmesh.dev", "metadata": {}}]


# --------------------------------------------------------------------------- REST


async def test_rest_over_tls(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.get("/v1/meta/server-info")
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "product": "tenantmesh",
        "version": "0.0.0-test",
        "services": [META_SERVICE],
    }
    assert response.headers["x-request-id"]


async def test_only_public_reads_may_be_cached(edge: RunningEdge) -> None:
    # The edge's answers carried no cache headers, so a browser kept a person's answers on disk
    # after sign-out. A public read (the same for everyone) may be kept for the edge's key cache
    # time; anything else, over REST or gRPC, by no one.
    async with edge.https_client() as client:
        public = await client.get("/v1/meta/server-info")
        personal = await client.get(f"/v1/tenants/{new_tenant_id()}")
    assert public.headers["cache-control"] == "public, max-age=300"
    assert personal.status_code == 200
    assert personal.headers["cache-control"] == "no-store"
    async with edge.grpc_plain_channel() as channel:
        stub = tenant_service_pb2_grpc.TenantServiceStub(channel)
        call = stub.GetTenant(tenant_service_pb2.GetTenantRequest(tenant_id=new_tenant_id()), timeout=10)
        await call
        assert ("cache-control", "no-store") in tuple(await call.initial_metadata() or ())


async def test_browsers_are_told_https_only_for_a_public_address_and_no_referrer_leaves(
    edge: RunningEdge, edge_factory: EdgeFactory, meta_upstream: GrpcUpstream
) -> None:
    async with edge.https_client() as client:
        local = await client.get("/v1/meta/server-info")
    # A console URL may name a tenant or a submission: other sites are not told it.
    assert local.headers["referrer-policy"] == "same-origin"
    # A loopback platform (make run) sets no HSTS: the browser would then refuse every other
    # local http:// server of that name.
    assert "strict-transport-security" not in local.headers
    public = await edge_factory(
        [meta_upstream.upstream("meta", [META_PACKAGE], META_SERVICE)], public_url="https://platform.example.test"
    )
    async with public.https_client() as client:
        answer = await client.get("/v1/meta/server-info")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


async def test_rest_over_plain_listener(edge: RunningEdge) -> None:
    async with edge.http_client() as client:
        response = await client.get("/v1/meta/server-info")
    assert response.status_code == 200
    assert response.json()["product"] == "tenantmesh"


async def test_incoming_request_id_is_kept_and_returned(edge: RunningEdge, meta_upstream: GrpcUpstream) -> None:
    request_id = f"test-{uuid.uuid4()}"
    async with edge.https_client() as client:
        response = await client.get("/v1/meta/server-info", headers={"x-request-id": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    meta: FakeMetaService = meta_upstream.servicers[META_SERVICE]
    assert any(seen.get("x-request-id") == request_id for seen in meta.seen_metadata)


async def test_generated_request_ids_differ(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        first = await client.get("/v1/meta/server-info")
        second = await client.get("/v1/meta/server-info")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_json_is_lower_camel_case_with_defaults(edge: RunningEdge) -> None:
    tenant_id = new_tenant_id()
    async with edge.https_client() as client:
        by_id = await client.get(f"/v1/tenants/{tenant_id}")
        by_slug = await client.get("/v1/tenants:lookup", params={"slug": "globex"})
    assert by_id.status_code == 200
    tenant = by_id.json()["tenant"]
    assert tenant["tenantId"] == tenant_id
    assert tenant["displayName"] == "Acme"
    assert tenant["createTime"] == "2023-11-14T22:13:20Z"
    assert tenant["state"] == "TENANT_STATE_ACTIVE"  # enums by name
    assert tenant["plan"] == ""  # primitives printed even when empty
    assert "tenant_id" not in tenant
    assert "display_name" not in tenant
    assert by_slug.status_code == 200
    assert by_slug.json()["tenant"]["slug"] == "globex"


async def test_tls_offers_h2_and_http11(edge: RunningEdge) -> None:
    for offered, expected in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")):
        context = edge.ssl_context()
        context.set_alpn_protocols(offered)
        # server_hostname "localhost": the dev certificate's DNS name is checked too.
        _, writer = await asyncio.open_connection(
            "127.0.0.1", edge.settings.https_port, ssl=context, server_hostname="localhost"
        )
        try:
            assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == expected
        finally:
            writer.close()
            await writer.wait_closed()


# --------------------------------------------------------------------------- native gRPC


async def test_native_grpc_plain(edge: RunningEdge) -> None:
    async with edge.grpc_plain_channel() as channel:
        stub = meta_service_pb2_grpc.MetaServiceStub(channel)
        reply = await stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), timeout=10)
    assert reply.product == "tenantmesh"
    assert list(reply.services) == [META_SERVICE]


async def test_native_grpc_tls(edge: RunningEdge) -> None:
    async with edge.grpc_tls_channel() as channel:
        stub = meta_service_pb2_grpc.MetaServiceStub(channel)
        reply = await stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), timeout=10)
        tenants = tenant_service_pb2_grpc.TenantServiceStub(channel)
        got = await tenants.GetTenant(tenant_service_pb2.GetTenantRequest(slug="acme"), timeout=10)
    assert reply.product == "tenantmesh"
    assert got.tenant.slug == "acme"


async def test_internal_package_is_not_routed(edge: RunningEdge) -> None:
    async with edge.grpc_plain_channel() as channel:
        stub = lifecycle_service_pb2_grpc.TenantLifecycleServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ProvisionTenant(lifecycle_service_pb2.ProvisionTenantRequest(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


# --------------------------------------------------------------------------- Envoy's own replies


@pytest.mark.parametrize("path", ["/v1/nope", "/nope", "/v1/tenants/a/b/c", "/v1/meta/server-info/extra"])
async def test_unknown_path_is_json_404(edge: RunningEdge, path: str) -> None:
    async with edge.https_client() as client:
        response = await client.get(path)
    assert_edge_error(response, 404, 5, "ROUTE_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/meta/server-info", "GET"),
        ("POST", "/v1/tenants/0190c2a4-0000-7000-8000-000000000001", "GET, PATCH, DELETE"),
        ("GET", "/v1/tenants/0190c2a4-0000-7000-8000-000000000001:suspend", "POST"),
        ("PUT", "/v1/tenants", "GET, POST"),
        ("POST", "/v1/tenants:migrate", "POST"),
    ],
)
async def test_another_method_is_json_405(edge: RunningEdge, method: str, path: str, allow: str) -> None:
    async with edge.https_client() as client:
        response = await client.request(method, path, headers={"content-type": "application/json"}, content=b"{}")
    if method in allow:
        # The method the path does answer still reaches the service (a stream, unimplemented upstream).
        assert response.status_code != 405, response.text
        return
    assert_edge_error(response, 405, 12, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == allow


async def test_a_path_shape_with_a_verb_keeps_its_own_method(edge: RunningEdge) -> None:
    # {tenant_id} alone would match "x:suspend" too; the more specific shape answers first.
    async with edge.https_client() as client:
        got = await client.get("/v1/tenants/0190c2a4-0000-7000-8000-000000000001")
        suspend = await client.patch("/v1/tenants/0190c2a4-0000-7000-8000-000000000001:suspend", json={})
    assert got.status_code == 200, got.text
    assert_edge_error(suspend, 405, 12, "METHOD_NOT_ALLOWED")
    assert suspend.headers["allow"] == "POST"


async def test_unknown_query_parameter_is_json_400(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.get("/v1/meta/server-info", params={"bogus": "1"})
    assert_edge_error(response, 400, 3, "MALFORMED_REQUEST")


async def test_malformed_json_is_json_400(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.post("/v1/tenants", content=b'{"slug": ', headers={"content-type": "application/json"})
    assert_edge_error(response, 400, 3, "MALFORMED_REQUEST")
    # A sentence for a person, not the JSON parser's own text ("Unexpected end of string ... ^").
    message = response.json()["message"]
    assert "JSON" in message
    assert "^" not in message
    assert "Unexpected" not in message


async def test_body_over_limit_is_json_413(edge: RunningEdge) -> None:
    assert edge.settings.max_request_bytes == ONE_MIB
    too_big = b'{"slug": "' + b"a" * ONE_MIB + b'"}'
    just_fits = b'{"slug": "' + b"a" * (ONE_MIB - 100) + b'"}'
    async with edge.https_client() as client:
        response = await client.post("/v1/tenants", content=too_big, headers={"content-type": "application/json"})
        assert_edge_error(response, 413, 3, "REQUEST_TOO_LARGE")
    async with edge.https_client() as client:
        fits = await client.post("/v1/tenants", content=just_fits, headers={"content-type": "application/json"})
    assert fits.status_code != 413  # reaches the (fake) service, which does not implement CreateTenant


# --------------------------------------------------------------------------- rate limits


async def test_tenant_burst_is_rate_limited_per_tenant(edge: RunningEdge) -> None:
    noisy, quiet = new_tenant_id(), new_tenant_id()
    async with edge.https_client() as client:
        responses = await asyncio.gather(
            *(
                client.get("/v1/meta/server-info", headers={"x-tenant-id": noisy, "origin": ALLOWED_ORIGIN})
                for _ in range(TENANT_RPS * 3)
            )
        )
        other = await client.get("/v1/meta/server-info", headers={"x-tenant-id": quiet})
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}, statuses
    # At most one refill (TENANT_RPS tokens) can land during the burst.
    assert statuses.count(200) <= 2 * TENANT_RPS, statuses
    assert statuses.count(429) >= TENANT_RPS, statuses
    limited = next(r for r in responses if r.status_code == 429)
    assert_edge_error(limited, 429, 8, "RATE_LIMITED")
    # A browser can read the 429: CORS headers are on Envoy's own replies too.
    assert limited.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert other.status_code == 200


async def test_grpc_burst_gets_resource_exhausted(edge: RunningEdge) -> None:
    metadata = (("x-tenant-id", new_tenant_id()),)
    async with edge.grpc_plain_channel() as channel:
        stub = meta_service_pb2_grpc.MetaServiceStub(channel)
        results = await asyncio.gather(
            *(
                stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), metadata=metadata, timeout=10)
                for _ in range(TENANT_RPS * 3)
            ),
            return_exceptions=True,
        )
    codes = [r.code() if isinstance(r, grpc.aio.AioRpcError) else grpc.StatusCode.OK for r in results]
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= TENANT_RPS, codes


# --------------------------------------------------------------------------- CORS


async def test_cors_preflight_from_allowed_origin(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.options(
            "/v1/tenants/abc",
            headers={
                "origin": ALLOWED_ORIGIN,
                "access-control-request-method": "PATCH",
                "access-control-request-headers": "authorization, content-type, x-tenant-id",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "x-tenant-id" in response.headers["access-control-allow-headers"]


async def test_cors_preflight_from_other_origin(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.options(
            "/v1/meta/server-info",
            headers={"origin": "https://evil.example.test", "access-control-request-method": "GET"},
        )
    assert "access-control-allow-origin" not in response.headers


async def test_cors_actual_request_exposes_request_id(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        allowed = await client.get("/v1/meta/server-info", headers={"origin": ALLOWED_ORIGIN})
        other = await client.get("/v1/meta/server-info", headers={"origin": "https://evil.example.test"})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in other.headers


# --------------------------------------------------------------------------- access log


async def test_access_log_is_json_with_request_facts(edge: RunningEdge) -> None:
    request_id, tenant_id = f"log-{uuid.uuid4()}", new_tenant_id()
    async with edge.https_client() as client:
        response = await client.get(
            "/v1/meta/server-info", headers={"x-request-id": request_id, "x-tenant-id": tenant_id}
        )
    assert response.status_code == 200
    entry = await _access_log_entry(edge, request_id)
    assert entry["tenant_id"] == tenant_id
    assert entry["method"] == "GET"
    assert entry["path"] == "/v1/meta/server-info"
    assert entry["status"] == 200
    assert entry["grpc_status"] == 0
    assert isinstance(entry["duration_ms"], int)


async def _access_log_entry(edge: RunningEdge, request_id: str, within: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        if edge.access_log.exists():
            for line in edge.access_log.read_text().splitlines():
                entry: dict[str, Any] = json.loads(line)
                if entry.get("request_id") == request_id:
                    return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"no access log line for {request_id} in {edge.access_log}")
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- upstream trouble


async def test_upstream_down_and_slow(edge_factory: EdgeFactory, tenants_upstream: GrpcUpstream) -> None:
    """A dead service: REST gets a JSON 503, native gRPC UNAVAILABLE with its own message.
    A slow one: REST gets a JSON 504."""
    edge = await edge_factory(
        [
            Upstream("meta", "127.0.0.1", free_port(), (META_PACKAGE,), META_SERVICE),
            tenants_upstream.upstream("tenants", [TENANTS_PACKAGE], health_service=TENANT_SERVICE),
        ],
        route_timeout_seconds=1,
    )
    async with edge.http_client() as client:
        down = await client.get("/v1/meta/server-info")
        slow = await client.get("/v1/tenants:lookup", params={"slug": "slow"})
    assert_edge_error(down, 503, 14, "UPSTREAM_UNAVAILABLE")
    assert_edge_error(slow, 504, 4, "UPSTREAM_TIMEOUT")

    async with edge.grpc_plain_channel() as channel:
        stub = meta_service_pb2_grpc.MetaServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not (raised.value.details() or "").startswith("{")  # not the REST JSON body
