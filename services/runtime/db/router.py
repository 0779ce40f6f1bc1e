"""Owns every database engine of a process and routes sessions to the core or a tenant database.

The engines themselves are made in :mod:`services.runtime.db.mysql` (one pool per
server, checked for liveness by :mod:`services.runtime.db.liveness`) and
:mod:`services.runtime.db.sqlite` (a capped LRU of per-tenant files); this module
decides which one a session, a connection or a tenant DDL statement goes to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from services.runtime.db.mysql import (
    MYSQL_BACKENDS,
    create_database_sql,
    create_mysql_engine,
    execute_outside_transaction,
    restore_database,
    without_database,
)
from services.runtime.db.placement import (
    DEFAULT_TENANT_DB_PREFIX,
    TenantDatabase,
    check_tenant_db_prefix,
    quote_database_identifier,
)
from services.runtime.db.replica_reads import DEFAULT_PIN_SECONDS, PrimaryPins, SharedPins
from services.runtime.db.sqlite import SIDE_SUFFIXES, TenantEngines, create_sqlite_engine
from services.runtime.db.tenant_binds import TenantBinds
from services.runtime.db.write_freeze import WRITES_FROZEN_OPTION, guard_engine
from services.runtime.private_files import private_directory, private_file

__all__ = ["DatabaseRouter", "core_router_of"]

# Every core session carries its router here: code handed only a session (queue_mail) finds
# the process's resources through it, and tells a core session from a tenant one.
_CORE_ROUTER_INFO = "tenantmesh.core_router"


class DatabaseRouter:
    """Creates and owns engines; hands out core and tenant sessions.

    MySQL/MariaDB: one engine (one pool) per database *server*. Connections of the engine that
    serves the core database have the core database as their default database (it is in the
    URL) and core ORM sessions additionally pin it with ``schema_translate_map``. Tenant ORM
    sessions use ``schema_translate_map={None: <tenant db>}`` on the same pool, so tenant tables
    must be declared without a schema and raw ``text()`` SQL in a tenant session is NOT routed
    (it would run against the connection's default database).

    SQLite: one engine for the core file plus an LRU of per-tenant-file engines.
    """

    def __init__(
        self,
        core_url: str,
        tenant_servers: Mapping[str, str] | None = None,
        *,
        sqlite_dir: Path | None = None,
        pool_size: int = 10,
        max_overflow: int = 5,
        sqlite_engine_cache_size: int = 64,
        tenant_db_prefix: str = DEFAULT_TENANT_DB_PREFIX,
        echo: bool = False,
        tenant_replicas: Mapping[str, str] | None = None,
        replica_pin_seconds: float = DEFAULT_PIN_SECONDS,
        shared_pins: SharedPins | None = None,
    ) -> None:
        if pool_size < 1 or max_overflow < 0:
            raise ValueError("pool_size must be >= 1 and max_overflow >= 0")
        if sqlite_engine_cache_size < 1:
            raise ValueError("sqlite_engine_cache_size must be >= 1")
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._echo = echo
        self._closed = False
        self._tenant_db_prefix = check_tenant_db_prefix(tenant_db_prefix)

        url = make_url(core_url)
        backend = url.get_backend_name()
        # name -> engine; several names may share one engine (same host:port).
        self._server_engines: dict[str, AsyncEngine] = {}
        # Distinct MySQL engines, keyed by (host, port); the pool-owning objects.
        self._mysql_engines: dict[tuple[str, int], AsyncEngine] = {}
        self._mysql_credentials: dict[tuple[str, int], tuple[str | None, str | None]] = {}
        self._sqlite_engines = TenantEngines(sqlite_engine_cache_size, pool_size + max_overflow, echo)
        # Server name -> engine of its read replica (MySQL only).
        self._replica_engines: dict[str, AsyncEngine] = {}
        self._tenant_binds = TenantBinds()
        # Pins shared with the other processes (Redis) matter only where reads may go to a replica.
        self.primary_pins = PrimaryPins(replica_pin_seconds, shared=shared_pins if tenant_replicas else None)

        if backend in MYSQL_BACKENDS:
            self._dialect: Literal["mysql", "sqlite"] = "mysql"
            self._init_mysql(url, tenant_servers)
            self._init_replicas(tenant_replicas or {})
        elif backend == "sqlite":
            if tenant_replicas:
                raise ValueError("read replicas need MySQL/MariaDB tenant servers")
            self._dialect = "sqlite"
            self._init_sqlite(url, tenant_servers, sqlite_dir)
        else:
            raise ValueError(f"unsupported database backend: {backend!r}")
        if self._core_db_name.startswith(self._tenant_db_prefix):
            # Otherwise a tenant could be given the core database's name.
            raise ValueError(
                f"the core database {self._core_db_name!r} must not start with the tenant database "
                f"prefix {self._tenant_db_prefix!r}"
            )
        # Core connections routed like core sessions (see _core_session).
        self._core_pinned: AsyncEngine = (
            self._core_engine.execution_options(schema_translate_map={None: self._core_db_name})
            if self._dialect == "mysql"
            else self._core_engine
        )
        # Connections in autocommit mode (see core_autocommit). On MySQL a pool of their own,
        # opened lazily: switching a pooled connection in and out of autocommit costs a round
        # trip each way. Its connections are never lent for tenant work, so their default
        # database is always the core database and no schema translation is needed.
        self._core_autocommit: AsyncEngine = (
            self._mysql_engine_for(self._core_server_url, isolation_level="AUTOCOMMIT")
            if self._dialect == "mysql"
            else self._core_engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    # -- construction -------------------------------------------------------------------------

    def _init_mysql(self, url: URL, tenant_servers: Mapping[str, str] | None) -> None:
        if url.get_driver_name() != "asyncmy":
            raise ValueError("MySQL/MariaDB URLs must use the asyncmy driver (mysql+asyncmy://)")
        if not url.database:
            raise ValueError("the MySQL core URL must name the core database")
        self._core_db_name = url.database
        quote_database_identifier(self._core_db_name)
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        self._core_server_url = url
        self._core_engine = self._mysql_engine_for(url)
        servers: dict[str, URL] = (
            {name: make_url(u) for name, u in tenant_servers.items()}
            if tenant_servers is not None
            else {"default": url}
        )
        for name, server_url in servers.items():
            if server_url.get_backend_name() not in MYSQL_BACKENDS:
                raise ValueError(f"tenant server {name!r} is not MySQL/MariaDB; backends cannot be mixed")
            # The database part of a tenant server URL is ignored: tenant sessions address
            # their database explicitly, and a shared engine keeps the core db as default.
            surl = without_database(server_url)
            if "charset" not in surl.query:
                surl = surl.update_query_dict({"charset": "utf8mb4"})
            self._server_engines[name] = self._mysql_engine_for(surl)

    def _init_replicas(self, replicas: Mapping[str, str]) -> None:
        for name, replica_url in replicas.items():
            if name not in self._server_engines:
                raise ValueError(f"a read replica is configured for {name!r}, which is no tenant server")
            url = without_database(make_url(replica_url))
            if url.get_backend_name() not in MYSQL_BACKENDS:
                raise ValueError(f"the read replica of {name!r} is not MySQL/MariaDB")
            if "charset" not in url.query:
                url = url.update_query_dict({"charset": "utf8mb4"})
            self._replica_engines[name] = self._mysql_engine_for(url)

    def _mysql_engine_for(self, url: URL, *, isolation_level: str | None = None) -> AsyncEngine:
        """The pooled engine of a server, made once per (host, port); the autocommit one aside."""
        key = ((url.host or "localhost").lower(), url.port or 3306)
        credentials = (url.username, url.password)
        if isolation_level is None:
            engine = self._mysql_engines.get(key)
            if engine is not None:
                if self._mysql_credentials[key] != credentials:
                    raise ValueError(f"conflicting credentials configured for server {key[0]}:{key[1]}")
                return engine
        engine = create_mysql_engine(
            url,
            pool_size=self._pool_size,
            max_overflow=self._max_overflow,
            echo=self._echo,
            isolation_level=isolation_level,
        )
        guard_engine(engine)
        if isolation_level is None:
            self._mysql_engines[key] = engine
            self._mysql_credentials[key] = credentials
        return engine

    def _init_sqlite(self, url: URL, tenant_servers: Mapping[str, str] | None, sqlite_dir: Path | None) -> None:
        if url.get_driver_name() != "aiosqlite":
            raise ValueError("SQLite URLs must use the aiosqlite driver (sqlite+aiosqlite://)")
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ValueError("the SQLite core URL must be a plain file path")
        core_path = Path(database).absolute()
        self._core_db_name = core_path.stem
        self._core_path = core_path
        self._sqlite_dir = (sqlite_dir if sqlite_dir is not None else core_path.parent).absolute()
        self._core_engine = create_sqlite_engine(
            url.set(database=str(core_path)),
            pool_size=self._pool_size,
            max_overflow=self._max_overflow,
            echo=self._echo,
        )
        for name, server_url in (tenant_servers or {"default": str(url)}).items():
            if make_url(server_url).get_backend_name() != "sqlite":
                raise ValueError(f"tenant server {name!r} is not SQLite; backends cannot be mixed")
            # On SQLite a "server" is only a name: every tenant file lives in sqlite_dir.
            self._server_engines[name] = self._core_engine

    # -- public properties --------------------------------------------------------------------

    @property
    def dialect(self) -> Literal["mysql", "sqlite"]:
        return self._dialect

    @property
    def core_database_name(self) -> str:
        """The core database name on MySQL; the core file's stem on SQLite."""
        return self._core_db_name

    @property
    def tenant_db_prefix(self) -> str:
        """What every tenant database name of this platform starts with."""
        return self._tenant_db_prefix

    def pools(self) -> dict[tuple[str, str], AsyncEngine]:
        """The engines that own connection pools, by (server, pool): server is host:port on MySQL
        ("sqlite" for the core file), pool is "main" or "autocommit"."""
        if self._dialect == "sqlite":
            return {("sqlite", "main"): self._core_engine}
        pools = {(f"{host}:{port}", "main"): engine for (host, port), engine in self._mysql_engines.items()}
        url = self._core_server_url
        pools[(f"{(url.host or 'localhost').lower()}:{url.port or 3306}", "autocommit")] = self._core_autocommit
        return pools

    def on_engine(self, hook: Callable[[AsyncEngine], None]) -> None:
        """Calls ``hook`` with every engine this router has and will make (to instrument them)."""
        engines = [*self.pools().values(), *self._sqlite_engines.cached()]
        seen: set[int] = set()
        for engine in engines:
            if id(engine.sync_engine) not in seen:
                seen.add(id(engine.sync_engine))
                hook(engine)
        self._sqlite_engines.on_create.append(hook)

    def pool_capacity(self) -> int:
        """Upper bound of server connections this router can open (0 on SQLite)."""
        if self._dialect == "sqlite":
            return 0
        pools = len(self._mysql_engines) + 1  # and the core autocommit pool
        return pools * (self._pool_size + self._max_overflow)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Create what must exist before the first session: the MySQL core database or SQLite dirs."""
        self._check_open()
        if self._dialect == "sqlite":
            await asyncio.to_thread(private_directory, self._sqlite_dir)
            # Made before SQLite opens it, so it (and its -wal and -shm files) is owner-only.
            await asyncio.to_thread(private_file, self._core_path)
            return
        # The pooled engine cannot connect until the core database exists (it is the default
        # database in its URL), so bootstrap through a one-off connection without a database.
        bootstrap = create_async_engine(
            without_database(self._core_server_url), poolclass=NullPool, hide_parameters=True
        )
        try:
            async with bootstrap.connect() as conn:
                await conn.exec_driver_sql(create_database_sql(self._core_db_name))
        finally:
            await bootstrap.dispose()

    async def dispose(self) -> None:
        """Close every pool. Idempotent; the router is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        engines: list[AsyncEngine] = [self._core_engine, self._core_autocommit, *self._mysql_engines.values()]
        engines += self._sqlite_engines.all_engines()
        seen: set[int] = set()
        for engine in engines:
            if id(engine) not in seen:
                seen.add(id(engine))
                await engine.dispose()
        if self.primary_pins.shared is not None:
            await self.primary_pins.shared.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("DatabaseRouter has been disposed")

    # -- sessions -----------------------------------------------------------------------------

    def core_session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session on the core database. Commit is the caller's job; rollback on error."""
        return self._core_session()

    def tenant_session(self, db: TenantDatabase) -> AbstractAsyncContextManager[AsyncSession]:
        """A session on a tenant database. Commit is the caller's job; rollback on error."""
        return self._tenant_session(db)

    def has_replica(self, db: TenantDatabase) -> bool:
        return db.server in self._replica_engines

    @asynccontextmanager
    async def tenant_read_session(self, db: TenantDatabase, caller: str) -> AsyncIterator[AsyncSession]:
        """A session for reads only: on the read replica of ``db``'s server when there is one and
        ``caller`` is not pinned to the primary (see services.runtime.db.replica_reads)."""
        replica = self._replica_engines.get(db.server)
        if replica is None or await self.primary_pins.pinned(db.server, db.name, caller):
            async with self._tenant_session(db) as session:
                yield session
            return
        self._server_engine(db)  # the same checks as any tenant session
        async with _session(self._tenant_binds.view(replica, db.name, replica=True)) as session:
            yield session

    def core_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection on the core database for Core (non-ORM) statements, routed like core sessions.

        Commit is the caller's job; whatever is not committed is rolled back on exit.
        """
        return self._connection(self._core_pinned)

    def tenant_transaction(self, db: TenantDatabase) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection on a tenant database for Core (non-ORM) statements, routed like tenant sessions.

        Commit is the caller's job; whatever is not committed is rolled back on exit.
        """
        return self._tenant_transaction(db)

    def core_autocommit(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection on the core database whose every statement commits on its own.

        For hot paths made of reads and one write: no BEGIN or COMMIT round trips, and
        nothing to roll back, since a statement either happened or did not. Never for
        two writes that must happen together.
        """
        return self._connection(self._core_autocommit)

    @asynccontextmanager
    async def _connection(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        self._check_open()
        async with engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def _core_session(self) -> AsyncIterator[AsyncSession]:
        self._check_open()
        # On MySQL the pinned engine's schema translation is redundant with the URL's default
        # database on a healthy connection; it makes ORM statements independent of connection
        # state anyway, at no cost.
        async with _session(self._core_pinned) as session:
            session.info[_CORE_ROUTER_INFO] = self
            yield session

    @asynccontextmanager
    async def _tenant_session(self, db: TenantDatabase) -> AsyncIterator[AsyncSession]:
        self._check_open()
        if self._dialect == "mysql":
            async with _session(self._tenant_bind(db)) as session:
                yield session
            return
        async with self._sqlite_tenant_engine(db) as engine, _session(engine) as session:
            yield session

    @asynccontextmanager
    async def _tenant_transaction(self, db: TenantDatabase) -> AsyncIterator[AsyncConnection]:
        self._check_open()
        if self._dialect == "mysql":
            async with self._tenant_bind(db).connect() as conn:
                yield conn
            return
        async with self._sqlite_tenant_engine(db) as engine, engine.connect() as conn:
            yield conn

    def _tenant_bind(self, db: TenantDatabase) -> AsyncEngine:
        """MySQL: the server's engine, its statements routed to ``db`` and refused while it moves."""
        return self._tenant_binds.view(self._server_engine(db), db.name, frozen=db.writes_frozen)

    # -- raw connections (migrations, DDL) ----------------------------------------------------

    @asynccontextmanager
    async def core_connection(self) -> AsyncIterator[AsyncConnection]:
        """A raw connection whose current database is the core database."""
        self._check_open()
        async with self._core_engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def tenant_connection(self, db: TenantDatabase) -> AsyncIterator[AsyncConnection]:
        """A raw connection whose *current* database is the tenant's (for migrations and raw SQL).

        On MySQL this borrows one pooled connection and issues ``USE``; on exit the connection is
        switched back to the core database (``information_schema`` on a server without it), or
        invalidated if that fails, so that no pooled connection is ever left pointing at a tenant
        database.
        """
        self._check_open()
        if self._dialect == "sqlite":
            async with self._sqlite_tenant_engine(db) as engine, engine.connect() as conn:
                yield conn
            return
        engine = self._server_engine(db)
        # A server without the core database sends its connections back to information_schema:
        # MySQL cannot unselect a database, and discarding the connection instead would cost a
        # new connection per migration or schema check on every server but the core's.
        home = self._core_db_name if engine is self._core_engine else NEUTRAL_DATABASE
        async with engine.connect() as conn:
            if db.writes_frozen:
                await conn.execution_options(**{WRITES_FROZEN_OPTION: True})
            try:
                # Below SQLAlchemy, so no transaction is begun: callers (alembic) start clean.
                await execute_outside_transaction(conn, f"USE {quote_database_identifier(db.name)}")
                # Statements on it are attributed to the tenant database (SQL spans).
                conn.info[CURRENT_DATABASE_INFO] = db.name
                yield conn
            finally:
                conn.info.pop(CURRENT_DATABASE_INFO, None)
                await restore_database(conn, home)

    # -- tenant database lifecycle ------------------------------------------------------------

    async def create_tenant_database(self, db: TenantDatabase) -> None:
        """Create the tenant database if it does not exist."""
        self._check_open()
        if self._dialect == "mysql":
            async with self._server_engine(db).connect() as conn:
                await execute_outside_transaction(conn, create_database_sql(db.name))
            return
        self._server_engine(db)
        path = self.sqlite_file(db)
        # An empty file is a valid empty SQLite database; WAL is set on first connect.
        await asyncio.to_thread(private_file, path)

    async def drop_tenant_database(self, db: TenantDatabase) -> None:
        """Drop the tenant database if it exists (SQLite: delete the file and its side files)."""
        self._check_open()
        if self._dialect == "mysql":
            async with self._server_engine(db).connect() as conn:
                await execute_outside_transaction(conn, f"DROP DATABASE IF EXISTS {quote_database_identifier(db.name)}")
            return
        self._server_engine(db)
        await self._sqlite_engines.forget(db.name)
        path = self.sqlite_file(db)
        for candidate in (path, *(path.with_name(path.name + s) for s in SIDE_SUFFIXES)):
            await asyncio.to_thread(candidate.unlink, missing_ok=True)

    async def tenant_database_exists(self, db: TenantDatabase) -> bool:
        self._check_open()
        if self._dialect == "mysql":
            async with self._server_engine(db).connect() as conn:
                result = await conn.execute(
                    text("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"),
                    {"name": db.name},
                )
                return result.first() is not None
        self._server_engine(db)
        return await asyncio.to_thread(self.sqlite_file(db).is_file)

    def check_tenant_database(self, db: TenantDatabase) -> None:
        """Raises ValueError unless ``db`` names a tenant database of this platform on a server
        this process knows: a placement that came over the wire, checked before any work."""
        try:
            self._server_engine(db)
        except LookupError as exc:
            raise ValueError(str(exc)) from None

    # -- internals ----------------------------------------------------------------------------

    def _server_engine(self, db: TenantDatabase) -> AsyncEngine:
        """The engine of ``db``'s server; first checks that ``db`` is a tenant database of this platform.

        Every tenant operation comes through here, so none can reach a core database or another
        platform's tenant on a shared server, whatever placement it was handed.
        """
        if not db.name.startswith(self._tenant_db_prefix) or db.name == self._core_db_name:
            raise ValueError(f"{db.name!r} is not a tenant database of this platform ({self._tenant_db_prefix}*)")
        try:
            return self._server_engines[db.server]
        except KeyError:
            raise LookupError(f"unknown tenant database server: {db.server!r}") from None

    def sqlite_file(self, db: TenantDatabase) -> Path:
        """The file of a tenant database in the embedded mode (SQLite)."""
        # db.name is whitelisted by TenantDatabase, so it cannot escape sqlite_dir.
        return self._sqlite_dir / f"{db.name}.db"

    @asynccontextmanager
    async def _sqlite_tenant_engine(self, db: TenantDatabase) -> AsyncIterator[AsyncEngine]:
        self._server_engine(db)
        entry, evicted = self._sqlite_engines.acquire(db.name, self.sqlite_file(db))
        try:
            for old in evicted:
                await self._sqlite_engines.retire(old)
            yield entry.engine
        finally:
            await self._sqlite_engines.release(entry)


# Every MySQL server has it, it holds no data, and no connection can write to it.
NEUTRAL_DATABASE = "information_schema"

# Key of Connection.info naming the database a connection was switched to with USE.
CURRENT_DATABASE_INFO = "tenantmesh.current_database"


def core_router_of(session: AsyncSession) -> DatabaseRouter | None:
    """The router a core session came from; None for a tenant session or a foreign one."""
    router = session.info.get(_CORE_ROUTER_INFO)
    return router if isinstance(router, DatabaseRouter) else None


@asynccontextmanager
async def _session(bind: AsyncEngine) -> AsyncIterator[AsyncSession]:
    session = AsyncSession(bind=bind, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
