"""Tenants spread over two MariaDB servers: placement, routing, migrate-all, connections per server.

The core database and the first tenant server are the run's shared server; the second is
a private ``mariadbd`` this module starts (tests/support/mariadb_server.py).
"""

from __future__ import annotations

import asyncio

from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from tests.support.mariadb_server import PrivateMariaDB
from tests.support.mesh import RUN_TENANT_DB_PREFIX, TenantsHarness
from tests.support.tenant_servers import (
    MAX_OVERFLOW,
    POOL_SIZE,
    create_tenant,
    delete_tenants,
    needs_mysql,
    second_server,
    two_servers,
)

__all__ = ["second_server", "two_servers"]  # module fixtures

pytestmark = needs_mysql


async def test_new_tenants_are_spread_and_each_database_lives_on_its_server(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    tenants = [await create_tenant(two_servers, "spread") for _ in range(4)]
    by_server = {t.database.server for t in tenants}
    assert by_server == {"main", "second"}
    assert sorted(t.database.server for t in tenants) == ["main", "main", "second", "second"]

    on_second = await second_server.databases(RUN_TENANT_DB_PREFIX)
    for tenant in tenants:
        assert (tenant.database.database in on_second) == (tenant.database.server == "second")
        # Routed to the right server: the tenants service checks the identity row in the tenant's database.
        current = await two_servers.tenants.GetCurrentTenant(
            pb.GetCurrentTenantRequest(), metadata=[("x-tenant-id", tenant.tenant_id)]
        )
        assert current.tenant.tenant_id == tenant.tenant_id
        assert current.schema_version

    await delete_tenants(two_servers, tenants)
    assert not (await second_server.databases(RUN_TENANT_DB_PREFIX)) & {t.database.database for t in tenants}


async def test_migrate_all_covers_tenants_on_both_servers(two_servers: TenantsHarness) -> None:
    tenants = [await create_tenant(two_servers, "mig") for _ in range(4)]
    request = pb.MigrateTenantDatabasesRequest(concurrency=4, tenant_ids=[t.tenant_id for t in tenants])
    messages = [m async for m in two_servers.tenants.MigrateTenantDatabases(request)]
    assert sorted(m.tenant_id for m in messages) == sorted(t.tenant_id for t in tenants)
    assert all(m.ok and m.services[0].schema_version for m in messages)
    assert {t.database.server for t in tenants} == {"main", "second"}
    await delete_tenants(two_servers, tenants)


async def test_connections_per_server_stay_bounded_under_load(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    tenants = [await create_tenant(two_servers, "load") for _ in range(6)]
    peak = 0
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            # Only this module's process connects to the private server; minus the sampler itself.
            rows = await second_server.query("SELECT COUNT(*) - 1 FROM information_schema.PROCESSLIST")
            peak = max(peak, int(str(rows[0][0])))
            await asyncio.sleep(0.02)

    async def calls(tenant: tenant_pb2.Tenant) -> None:
        for _ in range(15):
            await two_servers.tenants.GetCurrentTenant(
                pb.GetCurrentTenantRequest(), metadata=[("x-tenant-id", tenant.tenant_id)]
            )

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.gather(*(calls(t) for t in tenants for _ in range(4)))
    finally:
        stop.set()
        await sampler
    # 24 concurrent callers over 6 tenants: the second server never sees more than one pool.
    assert 0 < peak <= POOL_SIZE + MAX_OVERFLOW
    assert two_servers.runtime.db.pool_capacity() == 3 * (POOL_SIZE + MAX_OVERFLOW)
    await delete_tenants(two_servers, tenants)
