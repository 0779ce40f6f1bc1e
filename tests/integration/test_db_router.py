from __future__ import annotations

import asyncio
import contextlib
import logging
import textwrap
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import String, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

from services.runtime.db import (
    DatabaseRouter,
    MigrationSet,
    TenantDatabase,
    current_revision,
    tenant_database_name,
    upgrade_core,
    upgrade_tenant,
)

T = TypeVar("T")

TENANTS = 30
CONCURRENCY = 8

REV_1 = '''
"""create things"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "things",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("things")
'''

REV_2 = '''
"""add things.note"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("things", sa.Column("note", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("things", "note")
'''


class Base(DeclarativeBase):
    pass


class Thing(Base):
    # No schema on purpose: the router decides which database this table lives in.
    __tablename__ = "things"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(200))


def write_revision(directory: Path, filename: str, source: str) -> None:
    versions = directory / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (versions / filename).write_text(textwrap.dedent(source))


async def bounded_gather(items: list[TenantDatabase], fn: Callable[[TenantDatabase], Awaitable[T]]) -> list[T]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def run(db: TenantDatabase) -> T:
        async with semaphore:
            return await fn(db)

    return list(await asyncio.gather(*(run(db) for db in items)))


class ClientConnectionCounter:
    """Exact count of live DBAPI connections opened by the observed pools."""

    def __init__(self) -> None:
        self.live: set[int] = set()
        self.peak = 0

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", self._opened)
        event.listen(engine.sync_engine, "close", self._closed)
        event.listen(engine.sync_engine, "close_detached", self._closed_detached)

    def _opened(self, dbapi_connection: object, _record: object) -> None:
        self.live.add(id(dbapi_connection))
        self.peak = max(self.peak, len(self.live))

    def _closed(self, dbapi_connection: object, _record: object) -> None:
        self.live.discard(id(dbapi_connection))

    def _closed_detached(self, dbapi_connection: object) -> None:
        self.live.discard(id(dbapi_connection))


@contextlib.asynccontextmanager
async def mysql_connection_peak(url: str, databases: list[str]) -> AsyncIterator[list[int]]:
    """Sample the server's process list for connections sitting in our databases.

    Filtering by database (unique per run) keeps other users of the shared server out of the count.
    """
    engine = create_async_engine(make_url(url)._replace(database=None), poolclass=NullPool)
    peak = [0]
    stop = asyncio.Event()
    names = ", ".join(f"'{name}'" for name in databases)
    query = text(f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB IN ({names})")

    async def sample() -> None:
        async with engine.connect() as conn:
            while not stop.is_set():
                count = (await conn.execute(query)).scalar_one()
                await conn.rollback()
                peak[0] = max(peak[0], int(count))
                await asyncio.sleep(0.005)

    task = asyncio.create_task(sample())
    try:
        yield peak
    finally:
        stop.set()
        await task
        await engine.dispose()


async def test_router_tenants_migrations_and_isolation(
    db_backend_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = uuid.uuid4().hex[:8]
    slugs = [f"t{run}-{i:02d}" for i in range(TENANTS)]
    dbs = [TenantDatabase("default", tenant_database_name(slug)) for slug in slugs]
    migrations_dir = tmp_path / "things_migrations"
    write_revision(migrations_dir, "0001_things.py", REV_1)
    tenant_set = MigrationSet("things", "tenant", migrations_dir)
    core_set = MigrationSet("things", "core", migrations_dir)

    # A small SQLite engine cache forces evictions while sessions are in flight.
    router = DatabaseRouter(db_backend_url, pool_size=4, max_overflow=2, sqlite_engine_cache_size=8)
    is_mysql = router.dialect == "mysql"
    await router.start()
    monitor: contextlib.AbstractAsyncContextManager[list[int]] = contextlib.nullcontext([0])
    client = ClientConnectionCounter()
    if is_mysql:
        # Core and the default tenant server are the same server, hence one shared pool
        # (4 + 2), beside the core autocommit pool of the same size, which this test leaves alone.
        shared_pool = 6
        assert router.pool_capacity() == 2 * shared_pool
        for engine in router._mysql_engines.values():  # white-box: count what the pools open
            client.attach(engine)
        monitor = mysql_connection_peak(db_backend_url, [router.core_database_name, *(db.name for db in dbs)])
    else:
        assert router.pool_capacity() == 0
    try:
        async with monitor as server_peak:
            await _exercise(router, dbs, slugs, migrations_dir, tenant_set, core_set, caplog)
        if is_mysql:
            assert 0 < client.peak <= shared_pool, client.peak
            assert 0 < server_peak[0] <= shared_pool, server_peak
    finally:
        for db in dbs:
            await router.drop_tenant_database(db)
        await router.dispose()


async def _exercise(
    router: DatabaseRouter,
    dbs: list[TenantDatabase],
    slugs: list[str],
    migrations_dir: Path,
    tenant_set: MigrationSet,
    core_set: MigrationSet,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def provision(db: TenantDatabase) -> str:
        await router.create_tenant_database(db)
        await router.create_tenant_database(db)  # idempotent
        return await upgrade_tenant(router, db, tenant_set)

    assert await bounded_gather(dbs, provision) == ["0001"] * len(dbs)
    assert all(await bounded_gather(dbs, router.tenant_database_exists))

    # A second revision appears later; already-migrated tenants move forward from 0001.
    write_revision(migrations_dir, "0002_things_note.py", REV_2)
    assert await bounded_gather(dbs, lambda db: upgrade_tenant(router, db, tenant_set)) == ["0002"] * len(dbs)
    assert await upgrade_core(router, core_set) == "0002"
    assert await current_revision(router, core_set) == "0002"

    async def fill(db: TenantDatabase) -> None:
        slug = slugs[dbs.index(db)]
        async with router.tenant_session(db) as session:
            session.add_all([Thing(name=slug, note="a"), Thing(name=slug, note="b")])
            await session.commit()

    await bounded_gather(dbs, fill)
    async with router.core_session() as session:
        session.add(Thing(name="core-row"))
        await session.commit()

    # Re-running is a no-op: same head, no migration executed, data untouched.
    with caplog.at_level(logging.INFO, logger="alembic"):
        caplog.clear()
        assert await bounded_gather(dbs, lambda db: upgrade_tenant(router, db, tenant_set)) == ["0002"] * len(dbs)
        assert await upgrade_core(router, core_set) == "0002"
    assert not [r for r in caplog.records if "Running upgrade" in r.getMessage()]
    assert await bounded_gather(dbs, lambda db: current_revision(router, tenant_set, db)) == ["0002"] * len(dbs)

    async def names_in(db: TenantDatabase) -> list[str]:
        async with router.tenant_session(db) as session:
            return list((await session.scalars(select(Thing.name).order_by(Thing.id))).all())

    # Isolation: every tenant sees exactly its own two rows, never the core's or another tenant's.
    for slug, names in zip(slugs, await bounded_gather(dbs, names_in), strict=True):
        assert names == [slug, slug]
    async with router.core_session() as session:
        assert list((await session.scalars(select(Thing.name))).all()) == ["core-row"]

    # Raw SQL on a tenant connection runs in the tenant's database.
    async with router.tenant_connection(dbs[0]) as conn:
        count = (await conn.execute(text("SELECT COUNT(*) FROM things"))).scalar_one()
        assert count == 2

    # An exception inside the block rolls back; nothing is persisted.
    async def add_ghost_and_fail() -> None:
        async with router.tenant_session(dbs[1]) as session:
            session.add(Thing(name="ghost"))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_ghost_and_fail()
    async with router.tenant_session(dbs[1]) as session:
        assert await session.scalar(select(func.count()).select_from(Thing).where(Thing.name == "ghost")) == 0

    # Drop removes the database, is idempotent, and later sessions fail instead of recreating it.
    dropped = dbs[:5]
    for db in dropped:
        await router.drop_tenant_database(db)
        await router.drop_tenant_database(db)
        assert not await router.tenant_database_exists(db)
    assert await router.tenant_database_exists(dbs[5])
    with pytest.raises(DBAPIError):
        async with router.tenant_session(dropped[0]) as session:
            await session.scalars(select(Thing))
    assert await names_in(dbs[5]) == [slugs[5], slugs[5]]

    # After all that, core sessions still land in the core database.
    async with router.core_session() as session:
        assert await session.scalar(select(func.count()).select_from(Thing)) == 1

    if router.dialect == "mysql":
        await _assert_pool_points_at_core(router)


async def _assert_pool_points_at_core(router: DatabaseRouter) -> None:
    """Check out every connection of the shared pool at once: none may be left inside a tenant database."""
    capacity = router.pool_capacity() // 2  # the other half is the core autocommit pool's
    barrier = asyncio.Barrier(capacity)

    async def current_database() -> str:
        async with router.core_connection() as conn:
            await barrier.wait()  # hold the connection until all are checked out
            return str((await conn.execute(text("SELECT DATABASE()"))).scalar_one())

    assert (
        await asyncio.gather(*(current_database() for _ in range(capacity))) == [router.core_database_name] * capacity
    )


async def test_tenant_operations_stay_within_the_platforms_prefix(db_backend_url: str, tmp_path: Path) -> None:
    router = DatabaseRouter(db_backend_url, sqlite_dir=tmp_path / "tenants", tenant_db_prefix="tm_t_")
    await router.start()
    run = uuid.uuid4().hex[:8]
    ours = TenantDatabase("default", tenant_database_name(f"p{run}", router.tenant_db_prefix))
    # Another platform's tenant on the same server, and this platform's core database.
    foreign = [
        TenantDatabase("default", tenant_database_name(f"p{run}")),
        TenantDatabase("default", router.core_database_name),
    ]
    try:
        assert ours.name == f"tm_t_p{run}"
        await router.create_tenant_database(ours)
        assert await router.tenant_database_exists(ours)
        for db in foreign:
            for operation in (
                router.create_tenant_database(db),
                router.drop_tenant_database(db),
                router.tenant_database_exists(db),
            ):
                with pytest.raises(ValueError, match="not a tenant database of this platform"):
                    await operation
            with pytest.raises(ValueError, match="not a tenant database of this platform"):
                async with router.tenant_session(db):
                    pass
        assert not await router.tenant_database_exists(
            TenantDatabase("default", tenant_database_name(f"q{run}", router.tenant_db_prefix))
        )
    finally:
        await router.drop_tenant_database(ours)
        await router.dispose()


def test_a_core_database_inside_the_tenant_prefix_is_refused(db_backend_url: str) -> None:
    url = make_url(db_backend_url)
    core = url.database or ""
    prefix = (Path(core).stem if url.get_backend_name() == "sqlite" else core)[:3]
    with pytest.raises(ValueError, match="must not start with the tenant database prefix"):
        DatabaseRouter(db_backend_url, tenant_db_prefix=prefix)


async def test_database_errors_never_carry_the_statements_values(db_backend_url: str, tmp_path: Path) -> None:
    # They end up in logs (error mapping logs unexpected errors): no hashes or user data there.
    router = DatabaseRouter(db_backend_url, sqlite_dir=tmp_path / "tenants")
    await router.start()
    secret = f"secret-{uuid.uuid4().hex}"
    try:
        async with router.core_session() as session:
            with pytest.raises(DBAPIError) as raised:
                await session.execute(text("SELECT * FROM no_such_table WHERE value = :value"), {"value": secret})
        assert "no_such_table" in str(raised.value)  # the statement is still named
        assert secret not in str(raised.value)
        assert secret not in repr(raised.value)
    finally:
        await router.dispose()
