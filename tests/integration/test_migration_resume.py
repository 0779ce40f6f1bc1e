"""A migration cut after any of its statements is finished by the next run (issue 16 §1).

A process dying in the middle of a revision leaves on MariaDB every DDL statement it had sent
(each commits on its own) and the version unrecorded; on SQLite the revision's transaction is
rolled back. For real histories, each cut point in turn: the statements up to it are applied
as the dying process would have left them, then the ordinary upgrade runs again and must end
at head with the schema a clean upgrade makes (compared by reflection). Tenant sets are cut in
the offline-rendered replay (what migrate-all runs), core sets in that replay (what a service
starting on a fresh or older core database runs) and in Alembic's online upgrade (what a
revision not declared offline-safe runs).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from services.auth.app import CORE_MIGRATIONS as AUTH_CORE
from services.forms.app import FormsApp
from services.forms.files.models import CORE_MIGRATIONS as FILES_CORE
from services.menus.app import MenusApp
from services.registry.app import CORE_MIGRATIONS as REGISTRY_CORE
from services.runtime.auth.revocation_store import REVOCATION_MIGRATIONS
from services.runtime.db import DatabaseRouter, MigrationSet, TenantDatabase, tenant_database_name, upgrade_tenant
from services.runtime.db import migrations as migrations_module
from services.runtime.db.migrations import current_revision, upgrade_core
from services.runtime.db.mysql import execute_on_driver
from services.runtime.delivery.models import DELIVERY_MIGRATIONS
from services.runtime.outbox import OUTBOX_MIGRATIONS, TENANT_OUTBOX_MIGRATIONS
from services.runtime.telemetry.usage import USAGE_MIGRATIONS
from services.tenants.app import CORE_MIGRATIONS as TENANTS_CORE
from services.tenants.app import TENANT_MIGRATIONS as TENANTS_TENANT
from services.webhooks.app import CORE_MIGRATIONS as WEBHOOKS_CORE
from tests.conftest import db_backend_params, mysql_execute, unique_mysql_url
from tests.support.migrations import head_of, run_online

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]

TENANT_SETS = [FormsApp.tenant_migrations, MenusApp.tenant_migrations, TENANTS_TENANT, TENANT_OUTBOX_MIGRATIONS]
# Every core history: auth's adds columns, drops an index and updates rows.
CORE_SETS = [
    AUTH_CORE,
    TENANTS_CORE,
    OUTBOX_MIGRATIONS,
    REGISTRY_CORE,
    WEBHOOKS_CORE,
    FILES_CORE,
    DELIVERY_MIGRATIONS,
    REVOCATION_MIGRATIONS,
    USAGE_MIGRATIONS,
]
Schema = dict[str, tuple[object, ...]]


def _snapshot_sync(sync_conn: Connection, schema: str | None) -> Schema:
    inspector = inspect(sync_conn)
    found: Schema = {}
    for table in sorted(inspector.get_table_names(schema=schema)):
        columns = [
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
            for c in inspector.get_columns(table, schema=schema)
        ]
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes(table, schema=schema)
        )
        uniques = sorted(
            (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table, schema=schema)
        )
        foreign_keys = sorted(
            (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
            for f in inspector.get_foreign_keys(table, schema=schema)
        )
        primary_key = tuple(inspector.get_pk_constraint(table, schema=schema)["constrained_columns"])
        found[table] = (columns, indexes, uniques, foreign_keys, primary_key)
    return found


async def _snapshot(conn: AsyncConnection, schema: str | None) -> Schema:
    # On MySQL the inspector's default schema is the database the engine first connected to.
    found = await conn.run_sync(_snapshot_sync, schema)
    await conn.rollback()
    return found


@pytest.fixture(params=db_backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def _router(backend: str, directory: Path) -> AsyncIterator[DatabaseRouter]:
    """A router on a fresh core database of the backend; the database is dropped afterwards."""
    if backend == "sqlite":
        directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test's scratch folder
        url = f"sqlite+aiosqlite:///{directory / 'core.db'}"
        router = DatabaseRouter(url)
    else:
        mysql = unique_mysql_url()  # created by start()
        router = DatabaseRouter(mysql.render_as_string(hide_password=False))
    await router.start()
    try:
        yield router
    finally:
        await router.dispose()
        if backend != "sqlite":
            await mysql_execute(mysql, f"DROP DATABASE IF EXISTS `{mysql.database}`")


# --- tenant sets: the offline replay, cut -------------------------------------------------------


class _Cut(Exception):
    """Raised after the n-th statement that changes something: the process "dies" there."""


def _cut_replay(monkeypatch: pytest.MonkeyPatch, cut: int) -> list[str]:
    """Makes the runner's replay stop after its ``cut``-th statement; returns those sent.

    The replay sends statements below SQLAlchemy on MySQL (no cursor events), so the cut is
    made where the runner hands them to the driver. The raise leaves the revision's
    transaction open, and the connection's release rolls it back: what the server does when
    a killed process's connection drops.
    """
    sent: list[str] = []

    async def execute(conn: AsyncConnection, statements: Sequence[str]) -> None:
        for statement in statements:
            await execute_on_driver(conn, [statement])
            sent.append(statement)
            if len(sent) == cut:
                raise _Cut(statement)

    monkeypatch.setattr(migrations_module, "execute_on_driver", execute)
    return sent


def _tenant_schema(router: DatabaseRouter, db: TenantDatabase) -> str | None:
    return db.name if router.dialect == "mysql" else None


@pytest.mark.parametrize("migrations", TENANT_SETS, ids=lambda m: m.service)
async def test_a_tenant_upgrade_cut_after_any_statement_is_finished_by_a_rerun(
    backend: str, migrations: MigrationSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = head_of(migrations)
    run = uuid.uuid4().hex[:8]
    async with _router(backend, tmp_path) as router:
        clean = TenantDatabase("default", tenant_database_name(f"c{run}"))
        await router.create_tenant_database(clean)
        try:
            with monkeypatch.context() as patch:
                sent = _cut_replay(patch, 10**6)
                await upgrade_tenant(router, clean, migrations)
            async with router.tenant_connection(clean) as conn:
                expected = await _snapshot(conn, _tenant_schema(router, clean))
        finally:
            await router.drop_tenant_database(clean)
        # At least the version table, one table of the revision and the version's row.
        assert len(sent) >= 3, "the upgrade was not replayed from rendered statements"
        wrong = {}
        for cut in range(1, len(sent) + 1):
            db = TenantDatabase("default", tenant_database_name(f"r{run}-{cut:02d}"))
            await router.create_tenant_database(db)
            try:
                with monkeypatch.context() as patch:
                    _cut_replay(patch, cut)
                    with pytest.raises(_Cut):
                        await upgrade_tenant(router, db, migrations)
                assert await upgrade_tenant(router, db, migrations) == head
                assert await current_revision(router, migrations, db) == head
                async with router.tenant_connection(db) as conn:
                    found = await _snapshot(conn, _tenant_schema(router, db))
                if found != expected:
                    wrong[cut] = found
            finally:
                await router.drop_tenant_database(db)
        assert not wrong, f"schemas that differ from a clean upgrade, by cut point: {sorted(wrong)}"


# --- core sets: the offline replay and Alembic online, cut ---------------------------------------


@contextmanager
def _cut_after(router: DatabaseRouter, cut: int) -> Iterator[None]:
    """Alembic online sends its statements through SQLAlchemy: the cut is made in its cursor events."""
    writes: list[str] = []

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("SELECT", "PRAGMA", "SHOW", "BEGIN"):
            return
        writes.append(statement)
        if len(writes) == cut:
            raise _Cut(statement)

    engines = [engine.sync_engine for engine in router.pools().values()]
    for engine in engines:
        event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "after_cursor_execute", after)


@contextmanager
def _cut_core(runner: str, router: DatabaseRouter, cut: int) -> Iterator[None]:
    if runner == "online":
        with _cut_after(router, cut):
            yield
        return
    with pytest.MonkeyPatch.context() as patch:
        _cut_replay(patch, cut)
        yield


@pytest.mark.parametrize("runner", ["replay", "online"])
@pytest.mark.parametrize("migrations", CORE_SETS, ids=lambda m: m.directory.relative_to(ROOT).as_posix())
async def test_a_core_upgrade_cut_after_any_statement_is_finished_by_a_rerun(
    backend: str, migrations: MigrationSet, runner: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if runner == "online":
        run_online(monkeypatch)
    head = head_of(migrations)
    async with _router(backend, tmp_path / "clean") as router:
        await upgrade_core(router, migrations)
        async with router.core_connection() as conn:
            expected = await _snapshot(conn, None)
    wrong = {}
    cut = 1
    while True:
        async with _router(backend, tmp_path / f"cut{cut}") as router:
            try:
                with _cut_core(runner, router, cut):
                    await upgrade_core(router, migrations)
            except _Cut:
                pass
            else:
                break  # the upgrade sends fewer statements than this: every point was cut
            assert await upgrade_core(router, migrations) == head
            assert await current_revision(router, migrations) == head
            async with router.core_connection() as conn:
                found = await _snapshot(conn, None)
            if found != expected:
                wrong[cut] = found
        cut += 1
    assert cut > 3, "nothing was cut"
    assert not wrong, f"schemas that differ from a clean upgrade, by cut point: {sorted(wrong)}"


@pytest.mark.parametrize("migrations", CORE_SETS, ids=lambda m: m.directory.relative_to(ROOT).as_posix())
async def test_a_replayed_core_upgrade_makes_the_schema_alembic_makes_online(
    backend: str, migrations: MigrationSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _router(backend, tmp_path / "replayed") as router:
        with monkeypatch.context() as patch:
            sent = _cut_replay(patch, 10**6)
            await upgrade_core(router, migrations)
        async with router.core_connection() as conn:
            replayed = await _snapshot(conn, None)
    assert sent, "the upgrade was not replayed from rendered statements"
    run_online(monkeypatch)
    async with _router(backend, tmp_path / "online") as router:
        await upgrade_core(router, migrations)
        async with router.core_connection() as conn:
            online = await _snapshot(conn, None)
    assert replayed == online
