"""Fixtures of a tenants service whose tenants live on two MariaDB servers.

The core database and the tenant server ``main`` are the run's shared server
(TEST_MYSQL_URL); ``second`` is a private ``mariadbd`` of the test module
(tests/support/mariadb_server.py). Pools are small so that bounds are visible.
Import the fixtures into a test module to use them (one pair per module).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from tests.conftest import MYSQL_URL_ENV, mysql_execute, unique_mysql_url
from tests.support.mariadb_server import PrivateMariaDB, private_mariadb
from tests.support.mesh import TenantsHarness, tenants_service

POOL_SIZE, MAX_OVERFLOW = 2, 1

needs_mysql = [
    pytest.mark.mysql,
    pytest.mark.skipif(not os.environ.get(MYSQL_URL_ENV), reason=f"{MYSQL_URL_ENV} not set"),
]


@pytest.fixture(scope="module")
async def second_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PrivateMariaDB]:
    async with private_mariadb(tmp_path_factory.mktemp("second-mariadb")) as server:
        yield server


def two_server_env(shared_url: str, second: PrivateMariaDB) -> dict[str, str]:
    return {
        "TENANTMESH_TENANT_DB_SERVERS": f"main={shared_url},second={second.url()}",
        "TENANTMESH_DB_POOL_SIZE": str(POOL_SIZE),
        "TENANTMESH_DB_MAX_OVERFLOW": str(MAX_OVERFLOW),
    }


@pytest.fixture(scope="module")
async def two_servers(
    second_server: PrivateMariaDB, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TenantsHarness]:
    core = unique_mysql_url()
    await mysql_execute(core, "SELECT 1")
    env = two_server_env(core.set(database=None).render_as_string(hide_password=False), second_server)
    try:
        async with tenants_service(
            core.render_as_string(hide_password=False), Path(tmp_path_factory.mktemp("data")), env
        ) as mesh:
            yield mesh
    finally:
        await mysql_execute(core, f"DROP DATABASE IF EXISTS `{core.database}`")


async def create_tenant(mesh: TenantsHarness, prefix: str) -> tenant_pb2.Tenant:
    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    response = await mesh.tenants.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug)))
    tenant: tenant_pb2.Tenant = response.tenant
    return tenant


async def delete_tenants(mesh: TenantsHarness, tenants: list[tenant_pb2.Tenant]) -> None:
    for tenant in tenants:
        await mesh.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))
