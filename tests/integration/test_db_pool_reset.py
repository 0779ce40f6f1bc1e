"""MySQL pool hygiene: what a pooled connection carries back into the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.runtime.db import DatabaseRouter, TenantDatabase, liveness, tenant_database_name

pytestmark = pytest.mark.mysql


@pytest.fixture
async def router(db_backend_url: str) -> AsyncIterator[DatabaseRouter]:
    if not db_backend_url.startswith("mysql"):
        pytest.skip("MySQL/MariaDB pool behaviour")
    # One connection, so every checkout below gets the same server session back.
    router = DatabaseRouter(db_backend_url, pool_size=1, max_overflow=0)
    await router.start()
    async with router.core_connection() as conn:
        await conn.exec_driver_sql("CREATE TABLE things (id INT PRIMARY KEY) ENGINE=InnoDB")
        await conn.commit()
    try:
        yield router
    finally:
        await router.dispose()


async def session_state(router: DatabaseRouter) -> tuple[int, int, str]:
    """(@@in_transaction, Com_rollback so far, current database) of the pooled session."""
    async with router.core_connection() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        # Through the driver, so that looking does not itself open a transaction.
        async with driver.cursor() as cursor:
            await cursor.execute("SELECT @@in_transaction, DATABASE()")
            in_transaction, database = await cursor.fetchone()
            await cursor.execute("SHOW SESSION STATUS LIKE 'Com_rollback'")
            _, rollbacks = await cursor.fetchone()
    return int(in_transaction), int(rollbacks), str(database)


async def test_a_committed_connection_goes_back_without_a_rollback(router: DatabaseRouter) -> None:
    _, before, _ = await session_state(router)
    async with router.core_transaction() as conn:
        await conn.execute(text("INSERT INTO things (id) VALUES (1)"))
        await conn.commit()
    async with router.core_session() as session:
        await session.execute(text("INSERT INTO things (id) VALUES (2)"))
        await session.commit()
    in_transaction, after, _ = await session_state(router)
    assert (in_transaction, after) == (0, before)


async def test_an_open_transaction_is_rolled_back_on_return(router: DatabaseRouter) -> None:
    # Read-only session: closed with its transaction open.
    async with router.core_session() as session:
        assert (await session.execute(text("SELECT COUNT(*) FROM things"))).scalar_one() == 0
    assert (await session_state(router))[0] == 0
    # A transaction SQLAlchemy does not know about (opened on the driver) is rolled back too.
    async with router.core_connection() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        async with driver.cursor() as cursor:
            await cursor.execute("INSERT INTO things (id) VALUES (3)")
    in_transaction, _, _ = await session_state(router)
    assert in_transaction == 0
    async with router.core_connection() as conn:
        assert (await conn.execute(text("SELECT COUNT(*) FROM things"))).scalar_one() == 0
        await conn.rollback()


async def autocommit_session_counters(router: DatabaseRouter) -> dict[str, int]:
    """COMMIT and ROLLBACK statements the autocommit pool's server session has received so far."""
    async with router.core_autocommit() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        async with driver.cursor() as cursor:
            await cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Com_commit', 'Com_rollback')")
            return {str(name): int(value) for name, value in await cursor.fetchall()}


async def test_autocommit_statements_commit_alone_and_nothing_else_is_sent(router: DatabaseRouter) -> None:
    before = await autocommit_session_counters(router)
    async with router.core_autocommit() as conn:
        await conn.execute(text("INSERT INTO things (id) VALUES (7)"))
        # Another connection sees the row while this one is still open: it committed on its own.
        async with router.core_connection() as other:
            assert (await other.execute(text("SELECT COUNT(*) FROM things WHERE id = 7"))).scalar_one() == 1
            await other.rollback()
        assert (await conn.execute(text("SELECT DATABASE()"))).scalar_one() == router.core_database_name
    # Neither a COMMIT nor a ROLLBACK went to the server, on use or on return to the pool.
    assert await autocommit_session_counters(router) == before


async def test_tenant_connections_return_to_the_core_database(router: DatabaseRouter) -> None:
    db = TenantDatabase("default", tenant_database_name(f"p{router.core_database_name[-8:].replace('_', '')}"))
    await router.create_tenant_database(db)
    try:
        async with router.tenant_connection(db) as conn:
            assert (await conn.execute(text("SELECT DATABASE()"))).scalar_one() == db.name
            await conn.execute(text("CREATE TABLE t (id INT PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
            await conn.commit()
        in_transaction, _, database = await session_state(router)
        assert (in_transaction, database) == (0, router.core_database_name)
        # Left uncommitted: rolled back, and still switched back.
        async with router.tenant_connection(db) as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (2)"))
        in_transaction, _, database = await session_state(router)
        assert (in_transaction, database) == (0, router.core_database_name)
        async with router.tenant_connection(db) as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM t"))).scalar_one() == 1
            await conn.rollback()
    finally:
        await router.drop_tenant_database(db)


async def pooled_connection_ids(router: DatabaseRouter, count: int) -> set[int]:
    """Check out ``count`` connections at once; their server-side ids."""
    ids: set[int] = set()
    barrier = asyncio.Barrier(count)

    async def one() -> None:
        async with router.core_connection() as conn:
            ids.add(int((await conn.execute(text("SELECT CONNECTION_ID()"))).scalar_one()))
            await conn.rollback()
            await barrier.wait()

    await asyncio.gather(*(one() for _ in range(count)))
    return ids


@pytest.mark.parametrize("ping_after_idle", [30.0, 0.0], ids=["socket-check", "ping"])
async def test_connections_the_server_closed_are_replaced(
    db_backend_url: str, monkeypatch: pytest.MonkeyPatch, ping_after_idle: float
) -> None:
    # What a database restart does to a pool: every pooled connection is closed by the server.
    if not db_backend_url.startswith("mysql"):
        pytest.skip("MySQL/MariaDB pool behaviour")
    monkeypatch.setattr(liveness, "PING_AFTER_IDLE_SECONDS", ping_after_idle)
    router = DatabaseRouter(db_backend_url, pool_size=3, max_overflow=0)
    await router.start()
    try:
        old = await pooled_connection_ids(router, 3)
        assert len(old) == 3
        killer = create_async_engine(make_url(db_backend_url), poolclass=NullPool)
        try:
            async with killer.connect() as conn:
                for connection_id in old:
                    await conn.exec_driver_sql(f"KILL CONNECTION {connection_id}")
        finally:
            await killer.dispose()
        await asyncio.sleep(0.1)
        # No caller sees the dead connections: each checkout gets a working one.
        for _ in range(5):
            async with router.core_session() as session:
                assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert not (await pooled_connection_ids(router, 3)) & old
    finally:
        await router.dispose()
