"""Programmatic Alembic: per-service migration folders, no env.py, no alembic.ini.

Tenant databases are many and identical, so a tenant upgrade whose revisions are all
declared ``offline_safe = True`` (a module-level flag in the revision file: the upgrade
only emits statements through ``op`` and never reads the database) is rendered once with
Alembic's offline mode, per dialect and starting revision, and the cached statements are
replayed on each tenant connection. Core upgrades take the same path: a process renders a
core set once and replays it on every fresh core database it meets (test suites and
development make many; Alembic's online upgrade costs several times the replay). Any other
revision runs online, as Alembic normally does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.db.locks import named_lock
from services.runtime.db.mysql import execute_on_driver
from services.runtime.db.placement import TenantDatabase
from services.runtime.db.router import DatabaseRouter

__all__ = ["MigrationSet", "TenantSchemaHook", "current_revision", "upgrade_core", "upgrade_tenant"]

_log = logging.getLogger(__name__)

# How long a replica waits for another one's core upgrade (MySQL named lock, see upgrade_core).
CORE_MIGRATION_LOCK_TIMEOUT_SECONDS = 60

_SERVICE_RE = re.compile(r"[a-z][a-z0-9_]{0,40}")

# Alembic publishes the running migration through module globals (``alembic.op`` and
# ``alembic.context``). Two migrations interleaving on one event loop would write into each
# other's database, so the alembic part of an upgrade is serialised per loop, and the thread
# lock turns use from a second thread into an error instead of silent corruption.
_LOOP_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_THREAD_GUARD = threading.Lock()
# Loading a migration folder (see _load_script), once for concurrent first callers.
_LOAD_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
# One upgrade at a time per tenant database and service within a process (a retried
# provisioning racing a migrate-all run, say): the second finds the first's result.
_TENANT_LOCKS: weakref.WeakValueDictionary[tuple[object, ...], asyncio.Lock] = weakref.WeakValueDictionary()

# The flag a revision file sets to allow its upgrade to be rendered offline and replayed.
OFFLINE_SAFE_FLAG = "offline_safe"
# Python's sqlite3 opens a transaction only before DML, so DDL would commit statement by
# statement, as on MySQL; an explicit BEGIN makes a revision's DDL one transaction, so that a
# process dying in the middle of it leaves nothing behind (db/resumable.py is MySQL's answer).
# IMMEDIATE takes the write lock at once, waiting its turn (busy_timeout) behind another
# upgrade of the same file: a deferred transaction reads the version table first, and two
# such readers that then both write deadlock, which SQLite answers "database is locked" at
# once (services starting together in one mesh upgrade the one core file side by side).
_SQLITE_BEGIN = "BEGIN IMMEDIATE"
_MYSQL_NO_SUCH_TABLE = 1146

TenantSchemaHook = Callable[[AsyncConnection, bool], Awaitable[None]]
"""Work a service does in a tenant database once its schema is at head: called with the
tenant connection (current database = the tenant's) and ``fresh`` (True if this very call
created the schema from nothing, so its tables hold only what the migrations wrote). It
runs in the transaction that records the new version when ``fresh``, else in one of its
own after that; upgrade_tenant commits it."""


@dataclass(frozen=True)
class MigrationSet:
    """One service's migrations for one scope; ``directory`` contains a ``versions/`` folder."""

    service: str
    scope: Literal["core", "tenant"]
    directory: Path

    def __post_init__(self) -> None:
        if _SERVICE_RE.fullmatch(self.service) is None:
            raise ValueError(f"invalid service name for a version table: {self.service!r}")
        if self.scope not in ("core", "tenant"):
            raise ValueError(f"invalid migration scope: {self.scope!r}")

    @property
    def version_table(self) -> str:
        # Core and tenant scopes live in different databases, so one name per service suffices.
        return f"alembic_version_{self.service}"


async def upgrade_core(router: DatabaseRouter, migrations: MigrationSet) -> str:
    """Upgrade the core database to the set's head; returns the revision now applied.

    Safe to call from several processes at once (replicas of a service starting together):
    on MySQL/MariaDB the upgrade runs under the server-wide named lock
    ``tenantmesh_migrate_<service>``, and whoever gets it second finds the head applied.
    SQLite needs no lock: its single file is only ever used by one process.
    """
    _require_scope(migrations, "core")
    loaded = await _load_script(migrations)
    script, head = loaded.script, loaded.head
    async with router.core_connection() as conn:
        if await _read_heads(conn, migrations, None) == (head,):
            return head
    async with (
        _alembic_lock(),
        router.core_connection() as conn,
        # At most 60 characters (MySQL allows 64).
        named_lock(conn, f"tenantmesh_migrate_{migrations.service}", CORE_MIGRATION_LOCK_TIMEOUT_SECONDS),
    ):
        # Another process may have upgraded while this one waited for the lock.
        heads = await _read_heads(conn, migrations, None)
        if heads == (head,):
            return head
        if len(heads) > 1:
            raise RuntimeError(f"{migrations.service}: database has multiple heads {heads}")
        plan = await _rendered_plan(conn, loaded, migrations, heads)
        if plan is None:
            return await _upgrade(conn, script, head, migrations, None)
        await _replay(conn, plan, None, fresh=heads == ())
        await _check_upgraded(conn, head, migrations, None)
        return head


async def upgrade_tenant(
    router: DatabaseRouter, db: TenantDatabase, migrations: MigrationSet, *, then: TenantSchemaHook | None = None
) -> str:
    """Upgrade one tenant database to the set's head; returns the revision now applied.

    ``then`` runs on the same connection once the schema is at head (see TenantSchemaHook).
    Safe to call concurrently for different tenants. Upgrades that can replay offline-rendered
    statements run in parallel; the others (Alembic online) are serialised (see ``_LOOP_LOCKS``).
    Each holds one connection.
    """
    _require_scope(migrations, "tenant")
    loaded = await _load_script(migrations)
    head = loaded.head
    schema = _tenant_version_schema(router, db)
    async with _tenant_lock(db, migrations):
        while True:
            async with router.tenant_connection(db) as conn:
                heads = await _read_tenant_heads(conn, router.dialect, migrations)
                fresh = heads == ()
                if heads == (head,):
                    await _finish(conn, then, fresh=False)
                    return head
                if len(heads) > 1:
                    raise RuntimeError(f"{migrations.service}: database has multiple heads {heads}")
                key = _plan_key(conn, migrations, heads)
                if key not in loaded.plans and not _offline_safe(loaded, heads):
                    loaded.plans[key] = None
                plan = loaded.plans.get(key, _UNRENDERED)
                if isinstance(plan, _OfflinePlan):
                    await _replay(conn, plan, then, fresh=fresh)
                    return head
                await conn.rollback()
            if plan is None:
                break  # online, below
            # Rendered once, under the alembic lock, taken like the online path's (before a
            # connection, never while holding one); then read the heads again and replay.
            async with _alembic_lock(), router.tenant_connection(db) as conn:
                await _rendered_plan(conn, loaded, migrations, heads)
        # The alembic lock is taken before the connection so that tenants waiting for
        # their turn do not each sit on a pooled connection, and released once alembic is
        # done with it, before the checks and the hook.
        lock = _alembic_lock()
        await lock.acquire()
        locked = True
        try:
            async with router.tenant_connection(db) as conn:
                try:
                    await conn.run_sync(_upgrade_sync, loaded.script, migrations.version_table, schema)
                    await conn.commit()
                finally:
                    lock.release()
                    locked = False
                await _check_upgraded(conn, head, migrations, schema)
                await _finish(conn, then, fresh=fresh)
                return head
        finally:
            if locked:
                lock.release()


async def current_revision(
    router: DatabaseRouter, migrations: MigrationSet, db: TenantDatabase | None = None
) -> str | None:
    """The revision recorded in the service's version table, or None if never migrated."""
    if migrations.scope == "core":
        if db is not None:
            raise ValueError("a core migration set does not take a tenant database")
        async with router.core_connection() as conn:
            heads = await _read_heads(conn, migrations, None)
    else:
        if db is None:
            raise ValueError("a tenant migration set needs a tenant database")
        async with router.tenant_connection(db) as conn:
            heads = await _read_heads(conn, migrations, _tenant_version_schema(router, db))
    if len(heads) > 1:
        raise RuntimeError(f"{migrations.service}: database has multiple heads {heads}")
    return heads[0] if heads else None


def _require_scope(migrations: MigrationSet, scope: Literal["core", "tenant"]) -> None:
    if migrations.scope != scope:
        raise ValueError(f"{migrations.service}: expected a {scope} migration set, got {migrations.scope}")


def _tenant_version_schema(router: DatabaseRouter, db: TenantDatabase) -> str | None:
    # The MySQL dialect resolves an unqualified has_table() against the database that was
    # current when the engine first connected (the core db), not the one selected by USE, so
    # the version table must be qualified explicitly or alembic would look in the core db.
    return db.name if router.dialect == "mysql" else None


def _alembic_lock() -> asyncio.Lock:
    return _per_loop_lock(_LOOP_LOCKS)


def _per_loop_lock(locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = locks.get(loop)
    if lock is None:
        lock = locks[loop] = asyncio.Lock()
    return lock


def _tenant_lock(db: TenantDatabase, migrations: MigrationSet) -> asyncio.Lock:
    key = (asyncio.get_running_loop(), db.server, db.name, migrations.version_table)
    lock = _TENANT_LOCKS.get(key)
    if lock is None:
        lock = _TENANT_LOCKS[key] = asyncio.Lock()
    return lock


@dataclass(frozen=True)
class _OfflinePlan:
    """Rendered upgrade statements, one group per revision (run and committed together)."""

    groups: tuple[tuple[str, ...], ...]


_UNRENDERED = object()


@dataclass
class _LoadedScript:
    script: ScriptDirectory
    head: str
    # (dialect, server version, version table, starting heads) -> plan, or None: run online.
    plans: dict[tuple[object, ...], _OfflinePlan | None] = field(default_factory=dict)


# Loaded scripts, keyed by what is on disk: loading imports every revision file,
# which would otherwise be repeated for each of thousands of tenant databases.
_SCRIPTS: dict[tuple[Path, tuple[tuple[str, int], ...]], _LoadedScript] = {}


def _versions_fingerprint(migrations: MigrationSet) -> tuple[tuple[str, int], ...]:
    # Runs on every upgrade: os.scandir rather than pathlib's glob, which costs more than the rest.
    try:
        entries = os.scandir(migrations.directory / "versions")
    except (FileNotFoundError, NotADirectoryError):
        return ()
    with entries:
        return tuple(sorted((entry.name, entry.stat().st_mtime_ns) for entry in entries if entry.name.endswith(".py")))


async def _load_script(migrations: MigrationSet) -> _LoadedScript:
    key = (migrations.directory, _versions_fingerprint(migrations))
    cached = _SCRIPTS.get(key)
    if cached is None:
        # One load for concurrent first callers, so that they share its rendered plans too.
        async with _per_loop_lock(_LOAD_LOCKS):
            cached = _SCRIPTS.get(key)
            if cached is None:
                # File I/O and imports: keep them off the event loop.
                cached = _SCRIPTS[key] = await asyncio.to_thread(_load_script_sync, migrations)
    return cached


def _load_script_sync(migrations: MigrationSet) -> _LoadedScript:
    if not (migrations.directory / "versions").is_dir():
        raise FileNotFoundError(f"{migrations.service}: no versions/ folder in {migrations.directory}")
    script = ScriptDirectory(str(migrations.directory))
    heads = script.get_heads()
    if len(heads) != 1:
        raise ValueError(f"{migrations.service}: migrations must have exactly one head, found {heads}")
    return _LoadedScript(script, heads[0])


async def _read_tenant_heads(
    conn: AsyncConnection, dialect: Literal["mysql", "sqlite"], migrations: MigrationSet
) -> tuple[str, ...]:
    """The version table's rows, read on a tenant connection; the transaction stays open."""
    if dialect != "mysql":
        heads = await conn.run_sync(_read_heads_sync, migrations.version_table, None)
        return heads
    # One round trip: a missing table is an error rather than a second query. The table
    # name is built from a validated service name; the current database is the tenant's.
    try:
        result = await conn.exec_driver_sql(f"SELECT version_num FROM {migrations.version_table}")  # noqa: S608
    except DBAPIError as exc:
        if exc.orig is not None and exc.orig.args and exc.orig.args[0] == _MYSQL_NO_SUCH_TABLE:
            return ()
        raise
    return tuple(str(row[0]) for row in result if row[0] is not None)


async def _finish(conn: AsyncConnection, then: TenantSchemaHook | None, *, fresh: bool) -> None:
    if then is None:
        await conn.rollback()  # end the read's transaction
        return
    await then(conn, fresh)
    await conn.commit()


async def _replay(conn: AsyncConnection, plan: _OfflinePlan, then: TenantSchemaHook | None, *, fresh: bool) -> None:
    """Runs the rendered statements, committing per revision like Alembic's transaction_per_migration.

    On a fresh schema the hook joins the last revision's transaction; otherwise the schema's
    version is committed first, so that a failing hook cannot undo the record of DDL that
    MySQL has already committed implicitly. A revision cut part way is started again from
    its first statement: on MySQL each statement is idempotent (see db/resumable.py), on
    SQLite the revision is one transaction.
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and conn.in_transaction():
        # The heads were read in it; a revision's BEGIN must open the driver's transaction.
        await conn.commit()
    for i, group in enumerate(plan.groups):
        if not conn.in_transaction():
            # The statements go below SQLAlchemy, which must still know that the group's
            # transaction is open, or commit() would not commit it. (No round trip.)
            await conn.begin()
            if sqlite:
                await conn.exec_driver_sql(_SQLITE_BEGIN)
        await execute_on_driver(conn, group)
        if i < len(plan.groups) - 1 or not fresh or then is None:
            await conn.commit()
    if then is not None:
        await then(conn, fresh)
        await conn.commit()


async def _rendered_plan(
    conn: AsyncConnection, loaded: _LoadedScript, migrations: MigrationSet, heads: tuple[str, ...]
) -> _OfflinePlan | None:
    """The upgrade from ``heads`` rendered offline, cached per ``_plan_key``; None when it must run
    online (a revision not declared offline-safe, or one that failed to render). Rendering uses
    Alembic's module globals: the caller holds the alembic lock."""
    key = _plan_key(conn, migrations, heads)
    if key not in loaded.plans:
        loaded.plans[key] = (
            await conn.run_sync(
                _render_sync, loaded.script, loaded.head, heads, migrations.version_table, migrations.service
            )
            if _offline_safe(loaded, heads)
            else None
        )
    return loaded.plans[key]


def _plan_key(conn: AsyncConnection, migrations: MigrationSet, heads: tuple[str, ...]) -> tuple[object, ...]:
    dialect = conn.dialect
    return (dialect.name, dialect.driver, dialect.server_version_info, migrations.version_table, heads)


def _offline_safe(loaded: _LoadedScript, heads: tuple[str, ...]) -> bool:
    # The starting heads as Alembic passes them to an upgrade function (see _upgrade_sync).
    steps = loaded.script._upgrade_revs(loaded.head, cast(Any, heads))
    return all(getattr(step.revision.module, OFFLINE_SAFE_FLAG, False) is True for step in steps)


class _StatementCollector:
    """Alembic's offline output buffer, split back into statements and per-revision groups."""

    _REVISION_MARKER = "-- Running "

    def __init__(self) -> None:
        self.groups: list[list[str]] = [[]]
        self._revisions = 0

    def write(self, text: str) -> None:
        # Alembic writes each statement (terminator included) or comment in one call.
        statement = text.strip()
        if statement.startswith(self._REVISION_MARKER):
            # The version table's CREATE precedes the first revision's marker and goes with it.
            if self._revisions:
                self.groups.append([])
            self._revisions += 1
            return
        statement = statement.removesuffix(";").rstrip()
        if statement:
            self.groups[-1].append(statement)

    def flush(self) -> None:
        pass


def _render_sync(
    sync_conn: Connection,
    script: ScriptDirectory,
    head: str,
    heads: tuple[str, ...],
    version_table: str,
    service: str,
) -> _OfflinePlan | None:
    """Alembic offline mode from ``heads`` to ``head``; None (run online) if a revision fails to render."""
    with _thread_guard():
        output = _StatementCollector()

        def upgrade(rev: Any, context: MigrationContext) -> Sequence[RevisionStep]:
            return script._upgrade_revs(head, rev)

        try:
            with EnvironmentContext(
                Config(),
                script,
                fn=upgrade,
                as_sql=True,
                starting_rev=heads[0] if heads else None,
                destination_rev=head,
            ) as env:
                # The connection only supplies its dialect (server version included, so the SQL
                # is what online mode would send); offline mode executes nothing.
                env.configure(
                    connection=sync_conn,
                    output_buffer=cast(TextIO, output),
                    version_table=version_table,
                    transaction_per_migration=True,
                    transactional_ddl=False,
                    literal_binds=True,
                )
                with env.begin_transaction():
                    env.run_migrations()
        except Exception:
            # E.g. a revision flagged offline-safe that reads the database after all.
            _log.warning(
                "%s: could not render the upgrade from %s offline; it runs online",
                service,
                heads or "base",
                exc_info=True,
            )
            return None
    return _OfflinePlan(
        tuple(tuple(_resumable_version_table(s, version_table) for s in group) for group in output.groups if group)
    )


def _resumable_version_table(statement: str, version_table: str) -> str:
    # A first revision cut on MySQL leaves the version table created but empty, and the
    # re-run replays the plan from base, which creates it first (online, Alembic checks).
    return re.sub(rf"^CREATE TABLE {version_table} ", f"CREATE TABLE IF NOT EXISTS {version_table} ", statement)


@contextmanager
def _thread_guard() -> Iterator[None]:
    if not _THREAD_GUARD.acquire(blocking=False):
        raise RuntimeError("alembic migrations are already running in another thread")
    try:
        yield
    finally:
        _THREAD_GUARD.release()


async def _read_heads(conn: AsyncConnection, migrations: MigrationSet, schema: str | None) -> tuple[str, ...]:
    heads = await conn.run_sync(_read_heads_sync, migrations.version_table, schema)
    # Reading autobegan a transaction; do not hold it (or its metadata locks) open.
    await conn.rollback()
    return heads


def _read_heads_sync(sync_conn: Connection, version_table: str, schema: str | None) -> tuple[str, ...]:
    # A bare MigrationContext installs no module-level proxies, so this is safe to run
    # concurrently with an upgrade.
    context = MigrationContext.configure(
        connection=sync_conn, opts={"version_table": version_table, "version_table_schema": schema}
    )
    return tuple(head for head in context.get_current_heads() if head is not None)


async def _upgrade(
    conn: AsyncConnection, script: ScriptDirectory, head: str, migrations: MigrationSet, schema: str | None
) -> str:
    await conn.run_sync(_upgrade_sync, script, migrations.version_table, schema)
    await conn.commit()
    await _check_upgraded(conn, head, migrations, schema)
    return head


async def _check_upgraded(conn: AsyncConnection, head: str, migrations: MigrationSet, schema: str | None) -> None:
    heads = await _read_heads(conn, migrations, schema)
    if heads != (head,):
        raise RuntimeError(f"{migrations.service}: upgrade ended at {heads}, expected {head}")


def _upgrade_sync(sync_conn: Connection, script: ScriptDirectory, version_table: str, schema: str | None) -> None:
    with _thread_guard():
        if sync_conn.dialect.name == "sqlite":
            # The whole upgrade in one real transaction (Alembic then sees an external one and
            # commits nothing itself; the caller commits): see _SQLITE_BEGIN. Callers come here
            # with only reads behind them, so the driver has no transaction open yet.
            sync_conn.exec_driver_sql(_SQLITE_BEGIN)

        def upgrade(rev: Any, context: MigrationContext) -> Sequence[RevisionStep]:
            return script._upgrade_revs("heads", rev)

        with EnvironmentContext(Config(), script, fn=upgrade, destination_rev="heads") as env:
            env.configure(
                connection=sync_conn,
                version_table=version_table,
                version_table_schema=schema,
                transaction_per_migration=True,
            )
            with env.begin_transaction():
                env.run_migrations()
