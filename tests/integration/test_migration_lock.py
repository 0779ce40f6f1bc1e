"""Core migrations started by several processes at once (replicas of one service) on MariaDB.

Inside one process ``upgrade_core`` is serialised by an asyncio lock; across processes only the
database server can serialise it, with a named lock (``GET_LOCK``). The processes here are real
ones: two replicas in one process would be serialised by the in-process lock and prove nothing.
Both are held at a barrier until each has its own DatabaseRouter started, then released together
onto a revision that is slow enough for them to overlap.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.runtime.db import DatabaseRouter, MigrationSet, current_revision, migrations, upgrade_core
from tests.conftest import MYSQL_URL_ENV, mysql_execute, unique_mysql_url

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.skipif(not os.environ.get(MYSQL_URL_ENV), reason=f"{MYSQL_URL_ENV} not set"),
]

REPO = Path(__file__).resolve().parents[2]
SERVICE = "locktest"
LOCK_NAME = f"tenantmesh_migrate_{SERVICE}"

# Slow on purpose: the second replica arrives while the first is still inside the upgrade.
REV_1 = '''
"""create runs (slowly)"""
import os
import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("runs", sa.Column("pid", sa.Integer, nullable=False))
    time.sleep(2)
    op.execute(f"INSERT INTO runs (pid) VALUES ({os.getpid()})")


def downgrade() -> None:
    op.drop_table("runs")
'''

# One replica: start a router, report ready, wait for "go" on stdin, upgrade, report the result.
REPLICA = textwrap.dedent(
    """
    import asyncio, json, logging, sys
    from pathlib import Path

    from services.runtime.db import DatabaseRouter, MigrationSet, upgrade_core

    async def main(url, directory):
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        router = DatabaseRouter(url, pool_size=2, max_overflow=0)
        await router.start()
        try:
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            head = await upgrade_core(router, MigrationSet(sys.argv[3], "core", Path(directory)))
            print(json.dumps({"head": head}), flush=True)
        finally:
            await router.dispose()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.fixture
async def mysql_url() -> AsyncIterator[URL]:
    url = unique_mysql_url()
    # Fails (does not skip) when TEST_MYSQL_URL is set but the server is down.
    await mysql_execute(url, f"CREATE DATABASE `{url.database}`")
    try:
        yield url
    finally:
        await mysql_execute(url, f"DROP DATABASE IF EXISTS `{url.database}`")


@pytest.fixture
def migration_set(tmp_path: Path) -> MigrationSet:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_runs.py").write_text(textwrap.dedent(REV_1))
    return MigrationSet(SERVICE, "core", tmp_path / "migrations")


async def start_replica(url: URL, migration_set: MigrationSet) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        REPLICA,
        url.render_as_string(hide_password=False),
        str(migration_set.directory),
        migration_set.service,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    if line.strip() != b"ready":
        _, err = await proc.communicate()
        pytest.fail(f"replica did not start: {line!r}\n{err.decode()}")
    return proc


async def test_concurrent_replicas_apply_the_core_head_once(mysql_url: URL, migration_set: MigrationSet) -> None:
    replicas = [await start_replica(mysql_url, migration_set) for _ in range(2)]
    for proc in replicas:  # the barrier: both routers are up, release them together
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    results = await asyncio.wait_for(asyncio.gather(*(proc.communicate() for proc in replicas)), timeout=90)

    for proc, (out, err) in zip(replicas, results, strict=True):
        assert proc.returncode == 0, err.decode()
        assert json.loads(out.decode().splitlines()[-1]) == {"head": "0001"}
    # Exactly one replica ran the revision; the other waited for the lock, then found the head.
    upgraders = [err.decode() for _, err in results if "Running upgrade  -> 0001" in err.decode()]
    assert len(upgraders) == 1, [err.decode() for _, err in results]

    router = DatabaseRouter(mysql_url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    await router.start()
    try:
        assert await current_revision(router, migration_set) == "0001"
        async with router.core_connection() as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM runs"))).scalar_one() == 1
            versions = (await conn.execute(text(f"SELECT version_num FROM {migration_set.version_table}"))).all()
            assert [tuple(row) for row in versions] == [("0001",)]
            assert (await conn.execute(text("SELECT IS_FREE_LOCK(:n)"), {"n": LOCK_NAME})).scalar_one() == 1
    finally:
        await router.dispose()


async def test_a_lock_held_elsewhere_times_out_with_a_clear_error(
    mysql_url: URL, migration_set: MigrationSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "CORE_MIGRATION_LOCK_TIMEOUT_SECONDS", 1)
    other = create_async_engine(mysql_url, poolclass=NullPool)  # "another replica", mid-upgrade
    router = DatabaseRouter(mysql_url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    await router.start()
    try:
        async with other.connect() as holder:
            assert (await holder.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": LOCK_NAME})).scalar_one() == 1
            with pytest.raises(RuntimeError, match=f"{LOCK_NAME}.*1 s"):
                await upgrade_core(router, migration_set)
            assert await current_revision(router, migration_set) is None
            await holder.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": LOCK_NAME})
        assert await upgrade_core(router, migration_set) == "0001"
    finally:
        await router.dispose()
        await other.dispose()
