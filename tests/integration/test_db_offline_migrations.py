"""Tenant upgrades replayed from offline-rendered SQL, the online fallback, and the schema hook."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.db import (
    DatabaseRouter,
    MigrationSet,
    TenantDatabase,
    TenantSchemaHook,
    tenant_database_name,
    upgrade_tenant,
)
from services.runtime.db.migrations import current_revision

TENANTS = 12

SAFE_1 = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "things",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    # A literal with a percent sign: rendered SQL must survive the driver's paramstyle.
    op.execute("INSERT INTO things (name) VALUES ('100% seeded')")


def downgrade() -> None:
    op.drop_table("things")
"""

SAFE_2 = """
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
offline_safe = True


def upgrade() -> None:
    op.add_column("things", sa.Column("note", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("things", "note")
"""

# Reads the database: only correct online. ``flag`` is what the revision declares.
READING_3 = """
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
{flag}


def upgrade() -> None:
    count = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM things")).scalar()
    op.execute(sa.text("INSERT INTO things (name) VALUES (:name)").bindparams(name=f"had {{count}}"))


def downgrade() -> None:
    pass
"""


def write_revision(directory: Path, filename: str, source: str) -> None:
    versions = directory / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (versions / filename).write_text(textwrap.dedent(source))


@pytest.fixture
async def router(db_backend_url: str) -> AsyncIterator[DatabaseRouter]:
    router = DatabaseRouter(db_backend_url, pool_size=3, max_overflow=1)
    await router.start()
    try:
        yield router
    finally:
        await router.dispose()


@pytest.fixture
async def tenant_dbs(router: DatabaseRouter) -> AsyncIterator[list[TenantDatabase]]:
    run = uuid.uuid4().hex[:8]
    dbs = [TenantDatabase("default", tenant_database_name(f"o{run}-{i:02d}")) for i in range(TENANTS)]
    for db in dbs:
        await router.create_tenant_database(db)
    try:
        yield dbs
    finally:
        for db in dbs:
            await router.drop_tenant_database(db)


def upgrades_run(caplog: pytest.LogCaptureFixture) -> int:
    """Revisions alembic ran (online) or rendered (offline) since the last clear."""
    return sum("Running upgrade" in r.getMessage() for r in caplog.records)


async def names_in(router: DatabaseRouter, db: TenantDatabase) -> list[str]:
    async with router.tenant_connection(db) as conn:
        rows = (await conn.execute(text("SELECT name FROM things ORDER BY id"))).scalars().all()
        await conn.rollback()
    return list(rows)


async def test_offline_safe_upgrades_are_rendered_once_and_replayed(
    router: DatabaseRouter, tenant_dbs: list[TenantDatabase], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "things"
    write_revision(directory, "0001_things.py", SAFE_1)
    write_revision(directory, "0002_note.py", SAFE_2)
    migrations = MigrationSet("things", "tenant", directory)
    calls: list[tuple[str, bool]] = []

    def hook_for(db: TenantDatabase) -> TenantSchemaHook:
        async def then(conn: AsyncConnection, fresh: bool) -> None:
            calls.append((db.name, fresh))
            # Unqualified: the hook's connection is in the tenant's database.
            await conn.execute(text("INSERT INTO things (name) VALUES (:name)"), {"name": db.name})

        return then

    with caplog.at_level(logging.INFO, logger="alembic"):
        caplog.clear()
        heads = await asyncio.gather(*(upgrade_tenant(router, db, migrations, then=hook_for(db)) for db in tenant_dbs))
        assert heads == ["0002"] * TENANTS
        # Two revisions rendered once for all tenants, not run once per tenant.
        assert upgrades_run(caplog) == 2
    assert sorted(calls) == sorted((db.name, True) for db in tenant_dbs)
    for db in tenant_dbs:
        assert await names_in(router, db) == ["100% seeded", db.name]
        assert await current_revision(router, migrations, db) == "0002"

    # At head: nothing runs, the hook sees an existing schema.
    calls.clear()
    with caplog.at_level(logging.INFO, logger="alembic"):
        caplog.clear()
        await asyncio.gather(*(upgrade_tenant(router, db, migrations, then=hook_for(db)) for db in tenant_dbs))
        assert upgrades_run(caplog) == 0
    assert sorted(calls) == sorted((db.name, False) for db in tenant_dbs)

    # Concurrent calls for one tenant: one upgrades, the other finds it done.
    fresh_db = tenant_dbs[0]
    await router.drop_tenant_database(fresh_db)
    await router.create_tenant_database(fresh_db)
    assert await asyncio.gather(*(upgrade_tenant(router, fresh_db, migrations) for _ in range(3))) == ["0002"] * 3
    assert await names_in(router, fresh_db) == ["100% seeded"]


@pytest.mark.parametrize("flag", ["", "offline_safe = True"], ids=["undeclared", "declared-wrongly"])
async def test_a_revision_that_reads_the_database_runs_online(
    router: DatabaseRouter,
    tenant_dbs: list[TenantDatabase],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    flag: str,
) -> None:
    directory = tmp_path / "things"
    write_revision(directory, "0001_things.py", SAFE_1)
    write_revision(directory, "0002_note.py", SAFE_2)
    migrations = MigrationSet("things", "tenant", directory)
    dbs = tenant_dbs[:4]
    assert await asyncio.gather(*(upgrade_tenant(router, db, migrations) for db in dbs)) == ["0002"] * len(dbs)

    write_revision(directory, "0003_reading.py", READING_3.format(flag=flag))
    with caplog.at_level(logging.INFO, logger="alembic"):
        caplog.clear()
        assert await asyncio.gather(*(upgrade_tenant(router, db, migrations) for db in dbs)) == ["0003"] * len(dbs)
        # Online: once per tenant (a failed offline rendering adds its own attempt).
        assert upgrades_run(caplog) >= len(dbs)
    if flag:
        assert any("runs online" in r.getMessage() for r in caplog.records)
    for db in dbs:
        assert await names_in(router, db) == ["100% seeded", "had 1"]
        assert await current_revision(router, migrations, db) == "0003"

    # A fresh tenant goes base -> 0003 in one online run, since the path includes 0003.
    fresh_db = tenant_dbs[-1]
    assert await upgrade_tenant(router, fresh_db, migrations) == "0003"
    assert await names_in(router, fresh_db) == ["100% seeded", "had 1"]
