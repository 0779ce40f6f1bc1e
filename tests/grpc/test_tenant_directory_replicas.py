"""The remote tenant directory follows the tenants service's address when the resolver moves it.

Two real gRPC servers stand for two tenants replicas. A directory built while the address named
the first must ask the second once the address names it (the first died and the registry said
so): one that kept the channel it was built with called the dead replica until the process was
restarted (found by tests/faults/test_replica_killed.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc
from tenantmesh.type.v1 import database_pb2

from services.runtime.client import ChannelPool
from services.runtime.tenant_directory import RemoteTenantDirectory


class Replica(tenant_service_pb2_grpc.TenantServiceServicer):
    """Answers every GetTenant with a tenant whose slug names this replica."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def GetTenant(self, request: Any, context: Any) -> tenant_service_pb2.GetTenantResponse:
        tenant = tenant_pb2.Tenant(
            tenant_id=request.tenant_id,
            slug=self.name,
            state=tenant_pb2.TENANT_STATE_ACTIVE,
            database=database_pb2.DatabasePlacement(server="default", database=f"tenant_{self.name}"),
        )
        return tenant_service_pb2.GetTenantResponse(tenant=tenant)


class NoCredentials:
    async def metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


@pytest.fixture
async def replicas() -> AsyncIterator[dict[str, str]]:
    servers, addresses = [], {}
    for name in ("first", "second"):
        server = grpc.aio.server()
        tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(Replica(name), server)  # type: ignore[abstract]  # GetTenant only
        addresses[name] = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
        await server.start()
        servers.append(server)
    yield addresses
    for server in servers:
        await server.stop(0)


async def test_lookups_go_where_the_address_points_now(replicas: dict[str, str]) -> None:
    addresses = {"tenants": replicas["first"]}
    pool = ChannelPool()
    directory = RemoteTenantDirectory(lambda: pool.get(addresses["tenants"], "tenants"), NoCredentials())
    try:
        first = await directory.lookup("0190f0a0-0000-7000-8000-000000000001")
        assert first is not None
        assert first.slug == "first"
        addresses["tenants"] = replicas["second"]  # what the resolver does
        second = await directory.lookup("0190f0a0-0000-7000-8000-000000000001")
        assert second is not None
        assert second.slug == "second"
    finally:
        await pool.close()
