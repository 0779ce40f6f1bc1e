"""Moving a tenant's database to another server: online copy, a write freeze for that tenant
alone, switch, verification, the old copy dropped; resumable after a crash at any step."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import grpc
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, func, insert, select, update
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.clock import utcnow
from services.runtime.db import TenantDatabase
from services.runtime.errors import CommonReason, Unavailable
from services.runtime.outbox import OutboxRow
from services.tenants.manager import LocalTenantDirectory
from services.tenants.models import TenantRow
from services.tenants.moving import MoveError, TenantMover, move_in_progress
from services.tenants.states import TenantState
from tests.support.errors import expect_error
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
# A tenant database's outbox, as the outbox_tenant history makes it.
OUTBOX = OutboxRow.metadata.tables[OutboxRow.__tablename__]


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


async def indexes(mesh: TenantsHarness, db: TenantDatabase) -> set[str]:
    async with mesh.runtime.db.tenant_connection(db) as conn:
        return {str(tuple(row)[2]) for row in (await conn.exec_driver_sql("SHOW INDEX FROM notes")).all()}


async def tables(mesh: TenantsHarness, db: TenantDatabase) -> set[str]:
    async with mesh.runtime.db.tenant_connection(db) as conn:
        return {str(row[0]) for row in (await conn.exec_driver_sql("SHOW TABLES")).all()}


async def test_a_schema_change_during_the_copy_is_carried_over_at_the_sync(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    moving = await on_main(two_servers, "schema")
    source = await placement(two_servers, moving)
    await add_notes(two_servers, source, 0, 20)
    async with two_servers.runtime.db.tenant_connection(source) as conn:
        await conn.exec_driver_sql("CREATE TABLE scratch (id INT PRIMARY KEY)")

    async def migrate(step: str) -> None:
        if step == "copy":  # a migration (or deploy) lands after the copy, before the freeze
            async with two_servers.runtime.db.tenant_connection(source) as conn:
                # An index alone changes no checksum; a column breaks the copy's INSERT.
                await conn.exec_driver_sql("CREATE UNIQUE INDEX uq_notes_body ON notes (body)")
                await conn.exec_driver_sql("ALTER TABLE notes ADD COLUMN extra INT NOT NULL DEFAULT 7")
                await conn.exec_driver_sql("DROP TABLE scratch")
                await conn.exec_driver_sql("CREATE TABLE tags (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(20))")
                await conn.exec_driver_sql("INSERT INTO tags (tag) VALUES ('a'), ('b')")
                await conn.commit()

    steps: list[str] = []
    await mover(two_servers, migrate, steps).move(moving.tenant_id, "second")

    assert steps == ["copy", "freeze", "sync", "verified", "switch", "drop", "done"]
    await assert_lives_on(two_servers, moving, "second", second_server)
    moved = await placement(two_servers, moving)
    assert "uq_notes_body" in await indexes(two_servers, moved)
    assert await tables(two_servers, moved) >= {"notes", "tags"}
    assert "scratch" not in await tables(two_servers, moved)
    async with two_servers.runtime.db.tenant_connection(moved) as conn:
        assert (await conn.exec_driver_sql("SELECT COUNT(*), MIN(extra) FROM notes")).one() == (20, 7)
        assert (await conn.exec_driver_sql("SELECT COUNT(*) FROM tags")).scalar_one() == 2
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) is None


async def test_the_freeze_waits_until_the_tenants_last_events_are_relayed(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    """A relay deletes what it publishes from the source, frozen or not: an event still waiting
    at the sync would be deleted after the verification (the old copy then looks changed) and
    published again from the target's copy. The move waits for the outbox to empty."""
    moving = await on_main(two_servers, "mvbus")
    source = await placement(two_servers, moving)
    await add_notes(two_servers, source, 0, 5)
    # An event written as the bus went down. Its tenant outbox is not marked, so no relay takes it.
    waiting_event = {
        "event_id": str(uuid.uuid4()),
        "producer": "tenants",
        "event_type": "test.waiting",
        "envelope": b"{}",
        "create_time": utcnow(),
    }
    async with two_servers.runtime.db.tenant_connection(source) as conn:
        # The outbox a tenant-scoped service that writes events has (forms': outbox_tenant history).
        await conn.run_sync(OUTBOX.create)
        await conn.execute(insert(OUTBOX).values(**waiting_event))
        await conn.commit()

    impatient = TenantMover(
        two_servers.runtime.db,
        two_servers.runtime.unit_of_work("tenants", deliver_at_once=True),
        settle_seconds=0.2,
        outbox_wait_seconds=1.0,
    )
    with pytest.raises(MoveError, match="1 events of the tenant still wait to be relayed"):
        await impatient.move(moving.tenant_id, "second")
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) == "freeze"
    frozen = (await two_servers.tenants.GetTenant(pb.GetTenantRequest(tenant_id=moving.tenant_id))).tenant
    assert frozen.database.writes_frozen

    # The bus is back and a relay took it: the move goes on from the freeze.
    async with two_servers.runtime.db.tenant_connection(source) as conn:
        await conn.execute(delete(OUTBOX).where(OUTBOX.c.event_id == waiting_event["event_id"]))
        await conn.commit()
    await mover(two_servers).move(moving.tenant_id, "second")
    await assert_lives_on(two_servers, moving, "second", second_server)


async def test_a_database_error_stops_the_move_with_a_move_error_and_the_move_can_be_abandoned(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    moving = await on_main(two_servers, "abandon")
    source = await placement(two_servers, moving)
    target = TenantDatabase(server="second", name=source.name)
    await add_notes(two_servers, source, 0, 10)

    async def lose_the_copy(step: str) -> None:
        if step == "freeze":  # the copy is gone from the target (an operator, a failed disk)
            await two_servers.runtime.db.drop_tenant_database(target)

    for after_step in (lose_the_copy, None):  # and a resume fails the same way
        with pytest.raises(MoveError, match=r"step 'sync' failed: OperationalError.*abandon it with --abort"):
            await mover(two_servers, after_step).move(moving.tenant_id, "second")
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) == "sync"
    assert (await placement(two_servers, moving)).writes_frozen

    with pytest.raises(MoveError, match="no unfinished move"):
        await mover(two_servers).abort((await create_tenant(two_servers, "still")).tenant_id)
    await create_tenant_database_on(two_servers, target)  # a leftover copy, as after a failed sync
    steps: list[str] = []
    await mover(two_servers, steps=steps).abort(moving.tenant_id)

    assert steps == ["aborting", "abandoned"]
    await assert_lives_on(two_servers, moving, "main", second_server)
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) is None
    await add_notes(two_servers, source, 10, 1)  # writable again where it was
    # A new move starts from scratch.
    await mover(two_servers).move(moving.tenant_id, "second")
    await assert_lives_on(two_servers, moving, "second", second_server)
    assert await count_notes(two_servers, await placement(two_servers, moving)) == 11


async def create_tenant_database_on(mesh: TenantsHarness, db: TenantDatabase) -> None:
    await mesh.runtime.db.create_tenant_database(db)
    async with mesh.runtime.db.tenant_connection(db) as conn:
        await conn.exec_driver_sql("CREATE TABLE partial (id INT PRIMARY KEY)")


async def test_a_switched_move_cannot_be_abandoned(two_servers: TenantsHarness, second_server: PrivateMariaDB) -> None:
    moving = await on_main(two_servers, "late")
    await add_notes(two_servers, await placement(two_servers, moving), 0, 5)

    async def die(step: str) -> None:
        if step == "switch":
            raise Crash

    with pytest.raises(Crash):
        await mover(two_servers, die).move(moving.tenant_id, "second")
    with pytest.raises(MoveError, match="switched the tenant to 'second' already"):
        await mover(two_servers).abort(moving.tenant_id)
    await mover(two_servers).move(moving.tenant_id, "second")
    await assert_lives_on(two_servers, moving, "second", second_server)
    assert await count_notes(two_servers, await placement(two_servers, moving)) == 5


async def test_tenantctl_reports_a_failed_step_and_abandons_the_move(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    moving = await on_main(two_servers, "cliab")
    source = await placement(two_servers, moving)

    async def lose_the_copy(step: str) -> None:
        if step == "freeze":
            await two_servers.runtime.db.drop_tenant_database(TenantDatabase(server="second", name=source.name))
            raise Crash

    with pytest.raises(Crash):
        await mover(two_servers, lose_the_copy).move(moving.tenant_id, "second")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TENANTMESH_")},
        **{k: v for k, v in two_servers.runtime.settings.environment.items() if k.startswith("TENANTMESH_")},
        "DATABASE_URL": two_servers.runtime.settings.database.url,
    }
    command = [sys.executable, "-m", "services.cli.tenantctl", "tenants", "move", moving.slug]

    resumed = await asyncio.create_subprocess_exec(
        *command, "--to", "second", "--settle-seconds", "0",
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, error = await resumed.communicate()
    assert resumed.returncode == 1
    assert "tenantctl tenants move: step 'sync' failed: OperationalError" in error.decode(), error.decode()
    assert b"Traceback" not in error

    aborted = await asyncio.create_subprocess_exec(
        *command, "--abort", cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    output, error = await aborted.communicate()
    assert aborted.returncode == 0, error.decode()
    assert [line.split()[1] for line in output.decode().splitlines()] == ["aborting", "abandoned"]
    await assert_lives_on(two_servers, moving, "main", second_server)


async def test_a_tenant_being_moved_cannot_be_deleted(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    moving = await on_main(two_servers, "mvdel")
    source = await placement(two_servers, moving)
    target = TenantDatabase(server="second", name=source.name)
    await add_notes(two_servers, source, 0, 5)

    async def die(step: str) -> None:
        if step == "copy":  # the mover died after the copy (or is still copying a big tenant)
            raise Crash

    with pytest.raises(Crash):
        await mover(two_servers, die).move(moving.tenant_id, "second")
    tenant = (await two_servers.tenants.GetTenant(pb.GetTenantRequest(tenant_id=moving.tenant_id))).tenant
    refused = await expect_error(
        two_servers.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=moving.tenant_id, etag=tenant.etag)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TENANT_MOVE_UNFINISHED",
    )
    assert "--abort" in (refused.details() or "")
    assert await two_servers.runtime.db.tenant_database_exists(target)

    await mover(two_servers).abort(moving.tenant_id)
    tenant = (await two_servers.tenants.GetTenant(pb.GetTenantRequest(tenant_id=moving.tenant_id))).tenant
    await two_servers.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=moving.tenant_id, etag=tenant.etag))
    for db in (source, target):
        assert not await two_servers.runtime.db.tenant_database_exists(db)


async def test_a_tenant_deleted_as_its_move_started_is_not_switched_and_its_copy_is_purged(
    two_servers: TenantsHarness, second_server: PrivateMariaDB
) -> None:
    moving = await on_main(two_servers, "mvrace")
    source = await placement(two_servers, moving)
    target = TenantDatabase(server="second", name=source.name)
    await add_notes(two_servers, source, 0, 5)

    async def deleted_meanwhile(step: str) -> None:
        if step == "sync":
            # A DeleteTenant that got in before the move was recorded, its purge not done yet (and
            # its worker's lease running, so that the reconciler leaves it to the retry below).
            async with two_servers.runtime.db.core_session() as session:
                await session.execute(
                    update(TenantRow)
                    .where(TenantRow.tenant_id == moving.tenant_id)
                    .values(state=TenantState.DELETING, lease_until=utcnow() + timedelta(hours=1))
                )
                await session.commit()

    with pytest.raises(MoveError, match="no longer active or suspended on 'main'; it is not switched"):
        await mover(two_servers, deleted_meanwhile).move(moving.tenant_id, "second")
    assert (await placement(two_servers, moving)).server == "main"
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) == "switch"

    # The purge, finished by a retry of DeleteTenant (or the reconciler), drops both copies.
    await two_servers.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=moving.tenant_id))
    for db in (source, target):
        assert not await two_servers.runtime.db.tenant_database_exists(db)
    assert await move_in_progress(two_servers.runtime.db, moving.tenant_id) is None
