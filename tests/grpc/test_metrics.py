"""Prometheus metrics of a running platform, scraped over HTTP from the process's endpoint."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb

from services.runtime.telemetry.endpoint import MetricsEndpoint
from services.runtime.telemetry.settings import MetricsSettings
from tests.support.platform import ADMIN_EMAIL, Platform, platform


@pytest.fixture
async def mesh(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    async with platform(db_backend_url, tmp_path) as handle:
        yield handle


def value(text: str, name: str, **labels: str) -> float:
    """The sample of ``name`` whose labels include ``labels`` (0 when there is none)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{val}"' in line for key, val in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_calls_failures_by_reason_and_sampled_gauges_are_exported(mesh: Platform) -> None:
    endpoint = MetricsEndpoint.start(MetricsSettings(port=0), mesh.runtime.metrics)
    assert endpoint is not None
    try:
        tenant = await mesh.create_tenant("metered")
        for _ in range(2):
            with pytest.raises(grpc.aio.AioRpcError):
                await mesh.auth.Login(auth_pb.LoginRequest(tenant="platform", email=ADMIN_EMAIL, password="wrong-pass"))
        await mesh.runtime.metrics_sampler.sample_once()
        async with httpx.AsyncClient() as client:
            text = (await client.get(endpoint.url)).text
    finally:
        endpoint.stop()

    login = {"service": "tenantmesh.auth.v1.AuthService", "method": "Login"}
    assert value(text, "tenantmesh_rpc_server_requests_total", **login, code="UNAUTHENTICATED") == 2
    assert value(text, "tenantmesh_rpc_server_errors_total", **login, reason="INVALID_CREDENTIALS") == 2
    assert value(text, "tenantmesh_rpc_server_duration_seconds_count", **login) >= 3  # the admin's login too
    create = {"service": "tenantmesh.tenants.v1.TenantService", "method": "CreateTenant", "code": "OK"}
    assert value(text, "tenantmesh_rpc_server_requests_total", **create) == 1
    assert value(text, "tenantmesh_tenants", state="ACTIVE") >= 2  # the platform tenant and ours
    assert value(text, "tenantmesh_tenant_operation_duration_seconds_count", operation="provision", outcome="ok") == 1
    assert "tenantmesh_outbox_backlog " in text
    assert value(text, "tenantmesh_db_pool_capacity") > 0
    assert (
        value(text, "tenantmesh_cache_hits_total", cache="jwks")
        + value(text, "tenantmesh_cache_misses_total", cache="jwks")
        >= 1
    )
    # Bounded cardinality: no label carries a tenant id.
    assert tenant.tenant_id not in text
    assert not re.search(r'="[0-9a-f]{8}-[0-9a-f]{4}-', text)
