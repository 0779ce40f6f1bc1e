"""Read replicas: read_only RPCs read a tenant from its server's replica, and a caller who wrote
reads their writes from the primary. Real MariaDB replication between two private servers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from services.runtime.context import Principal, TenantContext, TenantState, principal_var, tenant_var
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.db.replica_reads import read_only_call
from services.runtime.db.shared_pins import RedisPins
from services.runtime.db.write_freeze import ReplicaWriteError
from services.runtime.tenant_db import tenant_session
from services.runtime.unit_of_work import UnitOfWork
from tests.support.mariadb_server import PrivateMariaDB, replicated_mariadb
from tests.support.ports import free_port

PIN_SECONDS = 0.6
PREFIX = "tmrepl_"
NOTES = Table("notes", MetaData(), Column("id", Integer, primary_key=True), Column("body", String(40)))


@pytest.fixture(scope="module")
async def replicated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[PrivateMariaDB, PrivateMariaDB]]:
    async with replicated_mariadb(Path(tmp_path_factory.mktemp("replication")), server_id=1) as pair:
        yield pair


@contextlib.asynccontextmanager
async def replicated_router(
    replicated: tuple[PrivateMariaDB, PrivateMariaDB], redis_url: str | None = None
) -> AsyncIterator[DatabaseRouter]:
    """A process's router on the primary and its replica (sharing pins through ``redis_url``)."""
    primary, replica = replicated
    db = DatabaseRouter(
        primary.url("tm_repl_core"),
        {"main": primary.url()},
        tenant_replicas={"main": replica.url()},
        replica_pin_seconds=PIN_SECONDS,
        tenant_db_prefix=PREFIX,
        pool_size=2,
        max_overflow=0,
        shared_pins=RedisPins(redis_url) if redis_url else None,
    )
    await db.start()
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def router(replicated: tuple[PrivateMariaDB, PrivateMariaDB]) -> AsyncIterator[DatabaseRouter]:
    async with replicated_router(replicated) as db:
        yield db


async def replicated_up_to_now(primary: PrivateMariaDB, replica: PrivateMariaDB) -> None:
    position = (await primary.query("SELECT @@gtid_binlog_pos"))[0][0]
    waited = await replica.query("SELECT MASTER_GTID_WAIT(%s, 10)", (position,))
    assert waited[0][0] == 0, "the replica did not catch up"


@contextlib.contextmanager
def call(db: TenantDatabase, caller: str, *, read_only: bool) -> Iterator[None]:
    """What the runtime sets up for an RPC of ``caller`` on the tenant of ``db``."""
    tokens = (
        tenant_var.set(TenantContext(tenant_id=str(uuid.uuid4()), slug="acme", state=TenantState.ACTIVE, database=db)),
        principal_var.set(Principal(subject=caller, tenant_id=None)),
        read_only_call.set(read_only),
    )
    try:
        yield
    finally:
        read_only_call.reset(tokens[2])
        principal_var.reset(tokens[1])
        tenant_var.reset(tokens[0])


async def tenant_with_notes(
    router: DatabaseRouter, replicated: tuple[PrivateMariaDB, PrivateMariaDB], *, first_note: bool
) -> TenantDatabase:
    """A new tenant database with a ``notes`` table (and note 1), on the replica too."""
    db = TenantDatabase(server="main", name=f"{PREFIX}{uuid.uuid4().hex[:8]}")
    await router.create_tenant_database(db)
    async with router.tenant_connection(db) as conn:
        await conn.exec_driver_sql("CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(40))")
        if first_note:
            await conn.exec_driver_sql("INSERT INTO notes VALUES (1, 'one')")
        await conn.commit()
    await replicated_up_to_now(*replicated)
    return db


async def notes_seen(router: DatabaseRouter, db: TenantDatabase, caller: str) -> int:
    with call(db, caller, read_only=True):
        async with tenant_session(router) as session:
            return int((await session.execute(select(func.count()).select_from(NOTES))).scalar_one())


async def test_reads_of_read_only_calls_go_to_the_replica_and_writers_read_their_writes(
    replicated: tuple[PrivateMariaDB, PrivateMariaDB], router: DatabaseRouter
) -> None:
    primary, replica = replicated
    db = await tenant_with_notes(router, replicated, first_note=True)
    # From here on the replica lags behind for good (until replication starts again).
    await replica.query("STOP SLAVE SQL_THREAD")
    try:
        await primary.query(f"INSERT INTO `{db.name}`.notes VALUES (2, 'two')")
        assert await notes_seen(router, db, "user:reader") == 1  # from the replica, which lags

        with call(db, "user:writer", read_only=False):
            async with UnitOfWork(router, "test").tenant() as work:
                await work.session.execute(insert(NOTES).values(id=3, body="three"))
        assert await notes_seen(router, db, "user:writer") == 3  # pinned: the primary
        assert await notes_seen(router, db, "user:reader") == 1  # others still read the replica

        # A plain tenant session of a call that may write pins its caller as well.
        with call(db, "user:other-writer", read_only=False):
            async with tenant_session(router) as session:
                await session.execute(insert(NOTES).values(id=4, body="four"))
                await session.commit()
        assert await notes_seen(router, db, "user:other-writer") == 4

        await asyncio.sleep(PIN_SECONDS)
        assert await notes_seen(router, db, "user:writer") == 1  # the pin ran out
    finally:
        await replica.query("START SLAVE SQL_THREAD")
    await replicated_up_to_now(primary, replica)
    assert await notes_seen(router, db, "user:reader") == 4
    await router.drop_tenant_database(db)


async def test_a_writer_reads_their_write_through_another_process_of_the_service(
    replicated: tuple[PrivateMariaDB, PrivateMariaDB], redis_url: str
) -> None:
    """Two replicas of a service (two routers) sharing Redis: the write goes through one, the
    writer's next read through the other, which must take it from the primary."""
    primary, replica = replicated
    async with replicated_router(replicated, redis_url) as first, replicated_router(replicated, redis_url) as second:
        db = await tenant_with_notes(first, replicated, first_note=True)
        await replica.query("STOP SLAVE SQL_THREAD")
        try:
            with call(db, "user:writer", read_only=False):
                async with UnitOfWork(first, "test").tenant() as work:
                    await work.session.execute(insert(NOTES).values(id=2, body="two"))
            assert await notes_seen(second, db, "user:writer") == 2  # pinned in Redis: the primary
            assert await notes_seen(second, db, "user:reader") == 1  # others read the lagging replica
            await asyncio.sleep(PIN_SECONDS + 0.1)
            assert await notes_seen(second, db, "user:writer") == 1  # the pin expired in Redis too
        finally:
            await replica.query("START SLAVE SQL_THREAD")
        await replicated_up_to_now(primary, replica)
        await first.drop_tenant_database(db)


async def test_reads_go_to_the_primary_while_the_shared_pins_are_unreachable(
    replicated: tuple[PrivateMariaDB, PrivateMariaDB],
) -> None:
    primary, replica = replicated
    closed_port = free_port()  # nothing listens there: Redis is down
    async with replicated_router(replicated, f"redis://127.0.0.1:{closed_port}/0") as router:
        db = await tenant_with_notes(router, replicated, first_note=True)
        await replica.query("STOP SLAVE SQL_THREAD")
        try:
            await primary.query(f"INSERT INTO `{db.name}`.notes VALUES (2, 'two')")
            # Unsure whether a pin exists elsewhere: the primary, which is never behind.
            assert await notes_seen(router, db, "user:reader") == 2
        finally:
            await replica.query("START SLAVE SQL_THREAD")
        await replicated_up_to_now(primary, replica)
        await router.drop_tenant_database(db)


async def test_a_write_on_a_replica_session_never_leaves_the_process(
    replicated: tuple[PrivateMariaDB, PrivateMariaDB], router: DatabaseRouter
) -> None:
    _, replica = replicated
    db = await tenant_with_notes(router, replicated, first_note=False)
    with call(db, "user:buggy", read_only=True), pytest.raises(ReplicaWriteError):
        async with tenant_session(router) as session:
            await session.execute(insert(NOTES).values(id=1, body="diverged"))
    assert await replica.query(f"SELECT COUNT(*) FROM `{db.name}`.notes") == [(0,)]
    await router.drop_tenant_database(db)
