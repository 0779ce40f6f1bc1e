"""Moving a tenant's database to another server: online copy, a write freeze for that tenant
alone, switch, verification, the old copy dropped; resumable after a crash at any step."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.db import TenantDatabase
from services.runtime.errors import CommonReason, Unavailable
from services.tenants.manager import LocalTenantDirectory
from services.tenants.moving import MoveError, TenantMover, move_in_progress
from tests.support.mariadb_server import PrivateMariaDB
from tests.support.mesh import RUN_TENANT_DB_PREFIX, TenantsHarness
from tests.support.processes import REPO_ROOT
from tests.support.tenant_servers import create_tenant, needs_mysql, second_server, two_servers

__all__ = ["second_server", "two_servers"]  # module fixtures

pytestmark = needs_mysql

# The test table as tenant ORM sessions see it: routed to the tenant's database by schema translation.
NOTES_TABLE = Table("notes", MetaData(), Column("id", Integer, primary_key=True), Column("body", String(100)))
# Above the outbox relay's poll (1 s): tenantctl's tenant events reach the service's caches within it.
SETTLE_SECONDS = 1.2
NOTES = 1200


class Crash(BaseException):
    """The mover's process dying: nothing of the mover catches it."""


def mover(
    mesh: TenantsHarness,
    after_step: Callable[[str], Awaitable[None]] | None = None,
    steps: list[str] | None = None,
) -> TenantMover:
    db = mesh.runtime.db
    return TenantMover(
        db,
        # Delivered at once, as the tenants service does; tenantctl's events wait for a relay's poll.
        mesh.runtime.unit_of_work("tenants", deliver_at_once=True),
        settle_seconds=0.2,
        after_step=after_step,
        report=(lambda p: steps.append(p.step)) if steps is not None else (lambda _p: None),
    )


async def on_main(mesh: TenantsHarness, prefix: str) -> tenant_pb2.Tenant:
    """A new tenant on the shared server (placement alternates, so at most two tries)."""
    while True:
        tenant = await create_tenant(mesh, prefix)
        if tenant.database.server == "main":
            return tenant


async def placement(mesh: TenantsHarness, tenant: tenant_pb2.Tenant) -> TenantDatabase:
    found = await LocalTenantDirectory(mesh.runtime.db).lookup(tenant.tenant_id)
    assert found is not None
    return found.database


async def add_notes(mesh: TenantsHarness, db: TenantDatabase, first: int, count: int) -> None:
    async with mesh.runtime.db.tenant_connection(db) as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS notes (id INT PRIMARY KEY, body VARCHAR(100) NOT NULL, "
            "tenant_ref VARCHAR(36) NULL)"
        )
        await conn.exec_driver_sql(
            "INSERT INTO notes (id, body) VALUES (%s, %s)", [(i, f"note {i} ✓") for i in range(first, first + count)]
        )
        await conn.commit()


async def count_notes(mesh: TenantsHarness, db: TenantDatabase) -> int:
    async with mesh.runtime.db.tenant_connection(db) as conn:
        return int((await conn.exec_driver_sql("SELECT COUNT(*) FROM notes")).scalar_one())


async def assert_lives_on(mesh: TenantsHarness, tenant: tenant_pb2.Tenant, server: str, second: PrivateMariaDB) -> None:
    now = (await mesh.tenants.GetTenant(pb.GetTenantRequest(tenant_id=tenant.tenant_id))).tenant
    assert now.database.server == server
    assert not now.database.writes_frozen
    assert (tenant.database.database in await second.databases(RUN_TENANT_DB_PREFIX)) == (server == "second")
    assert await mesh.runtime.db.tenant_database_exists(
        TenantDatabase(server="main", name=tenant.database.database)
    ) == (server == "main")
    # The tenants service reads the identity row where the placement now points.
    current = await mesh.tenants.GetCurrentTenant(
        pb.GetCurrentTenantRequest(), metadata=[("x-tenant-id", tenant.tenant_id)]
    )
    assert current.tenant.tenant_id == tenant.tenant_id


async def test_a_move_copies_freezes_only_that_tenant_switches_and_drops_the_old_copy(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    moving = await on_main(two_servers, "move")
    other = await create_tenant(two_servers, "stay")
    source = await placement(two_servers, moving)
    await add_notes(two_servers, source, 0, NOTES)
    await add_notes(two_servers, await placement(two_servers, other), 0, 3)
    seen: dict[str, object] = {}

    async def during(step: str) -> None:
        if step == "copy":
            # Written after the copy, before the freeze: the sync must pick it up.
            await add_notes(two_servers, source, NOTES, 5)
        if step == "freeze":
            frozen = await placement(two_servers, moving)
            seen["frozen"] = frozen.writes_frozen
            seen["listed"] = (
                await two_servers.tenants.GetTenant(pb.GetTenantRequest(tenant_id=moving.tenant_id))
            ).tenant.database.writes_frozen
            with pytest.raises(Unavailable) as refused:
                async with two_servers.runtime.db.tenant_session(frozen) as session:
                    await session.execute(update(NOTES_TABLE).where(NOTES_TABLE.c.id == 1).values(body="lost"))
            seen["reason"] = refused.value.reason
            async with two_servers.runtime.db.tenant_session(frozen) as session:
                seen["read"] = (await session.execute(select(func.count()).select_from(NOTES_TABLE))).scalar_one()
            with pytest.raises(Unavailable):  # raw connections (migrations) too
                async with two_servers.runtime.db.tenant_connection(frozen) as conn:
                    await conn.exec_driver_sql("DELETE FROM notes")
            # Reads through the service go on.
            await two_servers.tenants.GetCurrentTenant(
                pb.GetCurrentTenantRequest(), metadata=[("x-tenant-id", moving.tenant_id)]
            )
            # Another tenant on the same server writes as usual.
            await add_notes(two_servers, await placement(two_servers, other), 100, 1)

    steps: list[str] = []
    await mover(two_servers, during, steps).move(moving.tenant_id, "second")

    assert steps == ["copy", "freeze", "sync", "verified", "switch", "drop", "done"]
    assert seen == {"frozen": True, "listed": True, "reason": CommonReason.TENANT_MOVING, "read": NOTES + 5}
    await assert_lives_on(two_servers, moving, "second", second_server)
    moved = await placement(two_servers, moving)
    assert await count_notes(two_servers, moved) == NOTES + 5
    await add_notes(two_servers, moved, 5000, 1)  # writable again, on the new server
    assert await count_notes(two_servers, await placement(two_servers, other)) == 4
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) is None


@pytest.mark.parametrize("crash_after", ["copy", "freeze", "sync", "switch"])
async def test_a_move_that_died_resumes_where_it_stopped(
    two_servers: TenantsHarness, second_server: PrivateMariaDB, crash_after: str
) -> None:
    moving = await on_main(two_servers, "crash")
    await add_notes(two_servers, await placement(two_servers, moving), 0, 50)

    async def die(step: str) -> None:
        if step == crash_after:
            raise Crash

    with pytest.raises(Crash):
        await mover(two_servers, die).move(moving.tenant_id, "second")
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) is not None
    with pytest.raises(MoveError):  # one move per tenant at a time
        await mover(two_servers).move(moving.tenant_id, "main")

    steps: list[str] = []
    await mover(two_servers, steps=steps).move(moving.tenant_id, "second")
    resumed_at = {"copy": "freeze", "freeze": "sync", "sync": "switch", "switch": "drop"}[crash_after]
    assert steps[0] == resumed_at
    await assert_lives_on(two_servers, moving, "second", second_server)
    assert await count_notes(two_servers, await placement(two_servers, moving)) == 50


async def test_an_old_copy_written_after_the_switch_is_kept(two_servers: TenantsHarness) -> None:
    moving = await on_main(two_servers, "stale")
    source = await placement(two_servers, moving)
    await add_notes(two_servers, source, 0, 10)

    async def stale_writer(step: str) -> None:
        if step == "switch":
            # A process that never heard of the move, writing to the old copy.
            await add_notes(two_servers, TenantDatabase(server=source.server, name=source.name), 10, 1)

    with pytest.raises(MoveError, match="kept"):
        await mover(two_servers, stale_writer).move(moving.tenant_id, "second")
    assert await two_servers.runtime.db.tenant_database_exists(source)


async def test_tenantctl_moves_a_tenant_by_slug(two_servers: TenantsHarness, second_server: PrivateMariaDB) -> None:
    moving = await on_main(two_servers, "cli")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TENANTMESH_")},
        **{k: v for k, v in two_servers.runtime.settings.environment.items() if k.startswith("TENANTMESH_")},
        "DATABASE_URL": two_servers.runtime.settings.database.url,
    }
    command = [sys.executable, "-m", "services.cli.tenantctl", "tenants", "move", moving.slug]

    unknown = await asyncio.create_subprocess_exec(
        *command, "--to", "nowhere", cwd=REPO_ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, error = await unknown.communicate()
    assert unknown.returncode == 1
    assert b"unknown server" in error

    proc = await asyncio.create_subprocess_exec(
        *command, "--to", "second", "--settle-seconds", str(SETTLE_SECONDS),
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, error = await proc.communicate()
    assert proc.returncode == 0, error.decode()
    assert [line.split()[1] for line in output.decode().splitlines()] == [
        "copy", "freeze", "sync", "verified", "switch", "drop", "done"
    ]  # fmt: skip
    await assert_lives_on(two_servers, moving, "second", second_server)
