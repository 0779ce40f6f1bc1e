"""The global per-tenant rate limit through real Envoys and a real Redis (issue 16 §2): edges share
one quota per tenant, tenants do not share theirs, a plan change applies at runtime, Redis being
unreachable fails open or closed as configured, and refusals look like every other error."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from envoyapi.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc

from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.mesh_tls import EDGE
from tests.support.errors import assert_error, violation_fields
from tests.support.mesh_tls import TESTER, mesh_channel
from tests.support.ports import free_port
from tests.support.rate_limit import (
    PATIENT_EDGE_TIMEOUT_MS,
    PATIENT_LIMITER,
    LimitedMesh,
    edge_overrides,
    limited_mesh,
)
from tests.support.registry import eventually
from tests.support.running_mesh import ADMIN_EMAIL, PLATFORM_TENANT, login, mesh_process

from .conftest import EdgeFactory

pytestmark = pytest.mark.edge

SMALL_QUOTA = 6  # tests/support/rate_limit.py: TEST_PLANS["small"], per minute


@pytest.fixture
async def mesh(tmp_path: Path, redis_url: str) -> AsyncIterator[LimitedMesh]:
    async with limited_mesh(tmp_path, redis_url) as running:
        yield running


async def get_tenant(client: httpx.AsyncClient, tenant_id: str) -> httpx.Response:
    return await client.get(f"/v1/tenants/{tenant_id}", headers={"x-tenant-id": tenant_id})


def slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def statuses(client: httpx.AsyncClient, tenant_id: str, count: int) -> list[int]:
    return [(await get_tenant(client, tenant_id)).status_code for _ in range(count)]


def seconds_left_in_minute() -> float:
    return 60 - time.time() % 60


async def fresh_window() -> None:
    """The small quota is per minute: a test that spends it all must not straddle two windows."""
    if seconds_left_in_minute() < 8:
        await asyncio.sleep(seconds_left_in_minute() + 0.1)


async def test_two_edges_share_one_quota_and_tenants_do_not_share(mesh: LimitedMesh, edge_factory: EdgeFactory) -> None:
    first = await edge_factory(mesh.upstreams, **edge_overrides(mesh))
    second = await edge_factory(mesh.upstreams, **edge_overrides(mesh))
    tenant_a = await mesh.create_tenant(slug("rl-a"), "small")
    tenant_b = await mesh.create_tenant(slug("rl-b"), "small")
    await fresh_window()
    async with first.https_client() as one, second.https_client() as two:
        # Alternating between the edges: the quota is spent once in total, not once per edge.
        seen = [(await get_tenant(one if i % 2 == 0 else two, tenant_a)).status_code for i in range(SMALL_QUOTA + 4)]
        assert seen == [200] * SMALL_QUOTA + [429] * 4
        assert await statuses(one, tenant_a, 1) == [429]
        assert await statuses(two, tenant_a, 1) == [429]
        # Tenant A's exhausted quota is A's alone.
        assert await statuses(two, tenant_b, SMALL_QUOTA) == [200] * SMALL_QUOTA
        assert await statuses(one, tenant_b, 1) == [429]


async def test_refusal_is_a_google_rpc_status_with_rate_limit_headers(
    mesh: LimitedMesh, edge_factory: EdgeFactory
) -> None:
    edge = await edge_factory(mesh.upstreams, **edge_overrides(mesh))
    tenant = await mesh.create_tenant(slug("rl-h"), "small")
    await fresh_window()
    async with edge.https_client() as client:
        allowed = await get_tenant(client, tenant)
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["x-ratelimit-limit"].startswith(str(SMALL_QUOTA))
        assert allowed.headers["x-ratelimit-remaining"] == str(SMALL_QUOTA - 1)
        assert 0 < int(allowed.headers["x-ratelimit-reset"]) <= 60
        for _ in range(SMALL_QUOTA - 1):
            await get_tenant(client, tenant)
        refused = await get_tenant(client, tenant)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.headers["x-ratelimit-remaining"] == "0"
    body = refused.json()
    assert body["code"] == 8  # RESOURCE_EXHAUSTED
    [detail] = body["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert detail["reason"] == "RATE_LIMITED"


async def test_the_tenant_counted_is_the_tenant_served(mesh: LimitedMesh, edge_factory: EdgeFactory) -> None:
    """Where the edge counts x-tenant-id: a spent quota is not renewed by writing the id in capitals
    (the services lower-case it: one tenant, one counter), nor by a second x-tenant-id header in
    front of it (the services take the first copy of a header, as the edge counts it)."""
    edge = await edge_factory(mesh.upstreams, **edge_overrides(mesh))
    tenant = await mesh.create_tenant(slug("rl-c"), "small")
    await fresh_window()
    async with edge.https_client() as client:
        assert await statuses(client, tenant, SMALL_QUOTA + 1) == [200] * SMALL_QUOTA + [429]
        shouted = await client.get(f"/v1/tenants/{tenant}", headers={"x-tenant-id": tenant.upper()})
        assert shouted.status_code == 429, shouted.text
        # GetCurrentTenant answers for the tenant the header names: counted for a tenant that does
        # not exist, and answered for that one (not found), not served as ours.
        doubled = await client.get(
            "/v1/current-tenant", headers=[("x-tenant-id", str(uuid.uuid4())), ("x-tenant-id", tenant)]
        )
        assert doubled.status_code != 200, doubled.text
        assert tenant not in doubled.text


async def test_a_plan_change_applies_at_runtime(mesh: LimitedMesh, edge_factory: EdgeFactory) -> None:
    edge = await edge_factory(mesh.upstreams, **edge_overrides(mesh))
    tenant = await mesh.create_tenant(slug("rl-p"), "small")
    await fresh_window()
    async with edge.https_client() as client:
        assert await statuses(client, tenant, SMALL_QUOTA + 1) == [200] * SMALL_QUOTA + [429]
        await mesh.set_plan(tenant, "large")
        # The tenant event drops the limiter's cached plan (well before its 30 s time to live).

        async def allowed() -> bool:
            return (await get_tenant(client, tenant)).status_code == 200

        await eventually(allowed, within=10)
        assert await statuses(client, tenant, SMALL_QUOTA) == [200] * SMALL_QUOTA


async def test_a_tenants_own_setting_limits_it_on_one_service(mesh: LimitedMesh, edge_factory: EdgeFactory) -> None:
    edge = await edge_factory(mesh.upstreams, **edge_overrides(mesh))
    # A large plan, but at most 3 requests a minute to any one service (the route descriptor:
    # tenant + Envoy's destination cluster).
    tenant = await mesh.create_tenant(slug("rl-r"), "large", {"rate_limit.route": "3/m"})
    await fresh_window()
    async with edge.https_client() as client:
        seen = [await get_tenant(client, tenant) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    # The headers report the tightest of the request's limits.
    assert seen[0].headers["x-ratelimit-limit"].startswith("3")
    assert [r.headers["x-ratelimit-remaining"] for r in seen] == ["2", "1", "0", "0"]


async def test_redis_unreachable_fails_open_or_closed_as_configured(
    tmp_path: Path, redis_url: str, edge_factory: EdgeFactory
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    limiters = (
        {"TENANTMESH_RATE_LIMIT_REDIS_URL": nowhere},
        {"TENANTMESH_RATE_LIMIT_REDIS_URL": nowhere, "TENANTMESH_RATE_LIMIT_FAIL_CLOSED": "tenant"},
    )
    async with limited_mesh(tmp_path, redis_url, limiters=limiters) as mesh:
        fail_open = await edge_factory(mesh.upstreams, **edge_overrides(mesh, 0))
        fail_closed = await edge_factory(mesh.upstreams, **edge_overrides(mesh, 1))
        tenant = await mesh.create_tenant(slug("rl-f"), "small")
        async with fail_open.https_client() as opened, fail_closed.https_client() as closed:
            # Past the small quota: nothing counts, so the fail-open edge lets every request through...
            assert await statuses(opened, tenant, SMALL_QUOTA + 2) == [200] * (SMALL_QUOTA + 2)
            # ...and the fail-closed one refuses them, with the usual body.
            refused = await get_tenant(closed, tenant)
            assert refused.status_code == 429
            assert refused.json()["details"][0]["reason"] == "RATE_LIMITED"
            # A request of no tenant is not limited by the tenant's descriptors.
            assert (await closed.get("/v1/meta/server-info")).status_code == 200


def rate_limit_request(domain: str, tenant_id: str) -> rls_pb2.RateLimitRequest:
    entry = rls_pb2.RateLimitDescriptor.Entry
    return rls_pb2.RateLimitRequest(
        domain=domain, descriptors=[rls_pb2.RateLimitDescriptor(entries=[entry(key="tenant_id", value=tenant_id)])]
    )


async def test_only_the_edge_may_ask_and_only_what_the_edge_asks(mesh: LimitedMesh) -> None:
    tls = mesh.runtime.settings.mesh_tls
    assert tls is not None
    address = f"127.0.0.1:{mesh.limiter().server.port}"
    tenant = await mesh.create_tenant(slug("rl-i"), "large")
    # Another service of the mesh (or anyone with a certificate of the CA) cannot draw from a quota.
    for caller in (TESTER, "tenants"):
        async with mesh_channel(tls, address, "ratelimit", caller) as channel:
            stub: Any = rls_pb2_grpc.RateLimitServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ShouldRateLimit(rate_limit_request("tenantmesh", tenant))
            assert_error(refused.value, grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
    async with mesh_channel(tls, address, "ratelimit", EDGE) as channel:
        stub = rls_pb2_grpc.RateLimitServiceStub(channel)
        answer = await stub.ShouldRateLimit(rate_limit_request("tenantmesh", tenant))
        assert answer.overall_code == rls_pb2.RateLimitResponse.OK
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.ShouldRateLimit(rate_limit_request("another-domain", "not a tenant id!"))
        assert_error(invalid.value, grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
        assert violation_fields(invalid.value) == {"domain", "descriptors[0].entries[0].value"}
        # Bytes that are no message: the edge's short path answers them as the full chain does.
        raw: Any = channel.unary_unary("/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit")
        with pytest.raises(grpc.aio.AioRpcError) as malformed:
            await raw(b"\xff\xff\xff")
        assert_error(malformed.value, grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_MALFORMED")


async def test_make_run_with_redis_limits_each_verified_tenant_globally(tmp_path: Path, redis_url: str) -> None:
    """The mesh runner starts the rate limit service when Redis is configured, and its edge counts
    requests under the verified token's tenant (the platform tenant here, on the default plan)."""
    plans = json.dumps({"default": {"tenant": f"{SMALL_QUOTA}/m"}})
    env = {
        "REDIS_URL": redis_url,
        "TENANTMESH_RATE_LIMIT_PLANS": plans,
        "TENANTMESH_EDGE_RATE_LIMIT_TIMEOUT_MS": str(PATIENT_EDGE_TIMEOUT_MS),
        **PATIENT_LIMITER,
    }
    async with mesh_process(tmp_path, env) as mesh:
        async with mesh.client() as client:
            # Logging in names no verified tenant: not counted here (the edge's own limits apply).
            token = await login(client, PLATFORM_TENANT, ADMIN_EMAIL, mesh.admin_password)
            await fresh_window()
            headers = {"authorization": f"Bearer {token}", "x-tenant-id": PLATFORM_TENANT_ID}
            seen = [(await client.get("/v1/current-tenant", headers=headers)) for _ in range(SMALL_QUOTA + 1)]
    assert [r.status_code for r in seen] == [200] * SMALL_QUOTA + [429], seen[-1].text
    assert [r.headers["x-ratelimit-remaining"] for r in seen[:3]] == [str(SMALL_QUOTA - i) for i in (1, 2, 3)]


async def test_the_rate_limit_service_unreachable_lets_requests_through_unless_told_to_deny(
    mesh: LimitedMesh, edge_factory: EdgeFactory
) -> None:
    tenant = await mesh.create_tenant(slug("rl-d"), "small")
    nowhere = dataclasses.replace(
        mesh.global_limit(), upstream=dataclasses.replace(mesh.global_limit().upstream, port=free_port())
    )
    lenient = await edge_factory(mesh.upstreams, **{**edge_overrides(mesh), "global_rate_limit": nowhere})
    strict = await edge_factory(
        mesh.upstreams,
        **{**edge_overrides(mesh), "global_rate_limit": dataclasses.replace(nowhere, failure_mode_deny=True)},
    )
    async with lenient.https_client() as let_through, strict.https_client() as denied:
        assert await statuses(let_through, tenant, SMALL_QUOTA + 1) == [200] * (SMALL_QUOTA + 1)
        refused = await get_tenant(denied, tenant)
    assert refused.status_code == 503
    assert refused.json()["details"][0]["reason"] == "UPSTREAM_UNAVAILABLE"
