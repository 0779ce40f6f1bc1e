"""Moving a tenant to a server with a read replica: the switch waits until the replica has replayed
the copy, since read_only calls read the tenant there from the switch on. Real MariaDB replication
between two private servers; replica lag is made by stopping the replica's SQL thread."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.tenants.moving import MoveError, TenantMover, move_in_progress
from tests.conftest import mysql_execute, unique_mysql_url
from tests.integration.test_tenant_move import NOTES_TABLE, add_notes, placement
from tests.support.mariadb_server import PrivateMariaDB, replicated_mariadb
from tests.support.mesh import TenantsHarness, tenants_service
from tests.support.tenant_servers import needs_mysql

pytestmark = needs_mysql

Replicated = tuple[PrivateMariaDB, PrivateMariaDB]


@pytest.fixture(scope="module")
async def replicated_second(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Replicated]:
    """The tenant server ``second`` and its read replica."""
    async with replicated_mariadb(Path(tmp_path_factory.mktemp("second-replicated")), server_id=11) as pair:
        yield pair


@pytest.fixture
async def mesh(replicated_second: Replicated, tmp_path: Path) -> AsyncIterator[TenantsHarness]:
    primary, replica = replicated_second
    core = unique_mysql_url()
    await mysql_execute(core, "SELECT 1")
    env = {
        "TENANTMESH_TENANT_DB_SERVERS": f"main={core.set(database=None).render_as_string(hide_password=False)},"
        f"second={primary.url()}",
        "TENANTMESH_TENANT_DB_WEIGHTS": "main=1,second=0",
        "TENANTMESH_TENANT_DB_REPLICAS": f"second={replica.url()}",
    }
    try:
        async with tenants_service(core.render_as_string(hide_password=False), tmp_path, env) as running:
            yield running
    finally:
        await mysql_execute(core, f"DROP DATABASE IF EXISTS `{core.database}`")


def mover(mesh: TenantsHarness, steps: list[str], replica_wait_seconds: float) -> TenantMover:
    return TenantMover(
        mesh.runtime.db,
        mesh.runtime.unit_of_work("tenants", deliver_at_once=True),
        settle_seconds=0.2,
        report=lambda p: steps.append(p.step),
        replica_wait_seconds=replica_wait_seconds,
    )


async def test_the_switch_waits_for_the_target_replica_to_have_the_copy(
    mesh: TenantsHarness, replicated_second: Replicated
) -> None:
    _, replica = replicated_second
    created = await mesh.tenants.CreateTenant(
        pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=f"mvrep-{uuid.uuid4().hex[:8]}"))
    )
    tenant = created.tenant
    assert tenant.database.server == "main"
    await add_notes(mesh, await placement(mesh, tenant), 0, 30)

    await replica.query("STOP SLAVE SQL_THREAD")  # the replica falls behind during the bulk copy
    try:
        steps: list[str] = []
        with pytest.raises(MoveError, match="read replica of 'second' has not replayed the copy within 1 s"):
            await mover(mesh, steps, replica_wait_seconds=1).move(tenant.tenant_id, "second")
        assert steps[-1] == "switch"
        # Not switched: the tenant stays frozen on its source, the move resumable.
        stays = await placement(mesh, tenant)
        assert (stays.server, stays.writes_frozen) == ("main", True)
        assert await move_in_progress(mesh.runtime.db, tenant.tenant_id) == "switch"
    finally:
        await replica.query("START SLAVE SQL_THREAD")

    steps = []
    await mover(mesh, steps, replica_wait_seconds=30).move(tenant.tenant_id, "second")
    assert steps == ["switch", "replicated", "drop", "done"]
    moved = await placement(mesh, tenant)
    assert (moved.server, moved.writes_frozen) == ("second", False)
    # A read_only call's read, by a caller who never wrote (no pin): on the replica, complete.
    async with mesh.runtime.db.tenant_read_session(moved, "reader-1") as session:
        assert (await session.execute(text("SELECT @@port"))).scalar_one() == replica.port
        assert (await session.execute(select(func.count()).select_from(NOTES_TABLE))).scalar_one() == 30
