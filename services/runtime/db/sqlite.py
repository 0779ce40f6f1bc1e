"""SQLite: one file per tenant, and a capped LRU of their engines."""

from __future__ import annotations

import os
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
)
# SQLite-only side files that must go with the database file on drop.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
# Test-only (the fault suite's disk-full scenario): with this variable set to 1, a tenant file
# with a marker file beside it (``<file>`` + FULL_MARKER_SUFFIX) may not grow, as on a full disk:
# every connection taken from its pool has its page limit set to the file's current size, or
# lifted when the marker is gone. SQLite answers a write that needs a page more SQLITE_FULL,
# the error a full disk gives. Unset, nothing is installed.
FAULT_FULL_ENV = "TENANTMESH_FAULT_SQLITE_FULL"
FULL_MARKER_SUFFIX = ".fault-full"
_NO_PAGE_LIMIT = 4294967294  # SQLite's largest; it lowers it to its build's maximum


def _on_connect(dbapi_connection: Any, _connection_record: Any) -> None:
    # Runs on every new DBAPI connection, before the driver has opened a transaction,
    # which matters because journal_mode and foreign_keys are no-ops inside one.
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def create_sqlite_engine(url: URL, *, pool_size: int, max_overflow: int, echo: bool) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, echo=echo, hide_parameters=True)
    event.listen(engine.sync_engine, "connect", _on_connect)
    return engine


def _install_full_disk_fault(engine: AsyncEngine, path: Path) -> None:
    marker = Path(f"{path}{FULL_MARKER_SUFFIX}")

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # 1 is below any database's size: SQLite keeps the limit at the current size.
        limit = 1 if marker.exists() else _NO_PAGE_LIMIT
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA max_page_count = {limit}")
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "checkout", on_checkout)


@dataclass(eq=False)
class TenantEngine:
    """A cached per-file engine; ``users`` lets eviction defer dispose until the last session ends."""

    engine: AsyncEngine
    users: int = 0
    retired: bool = False


class TenantEngines:
    """At most ``size`` open tenant files; the least recently used engine is retired first."""

    def __init__(self, size: int, pool_size: int, echo: bool) -> None:
        self._size = size
        self._pool_size = pool_size
        self._echo = echo
        self._cache: OrderedDict[str, TenantEngine] = OrderedDict()
        # Evicted engines still used by a session; kept so dispose_all() can reach them.
        self._retired: set[TenantEngine] = set()
        # Called with every engine made from now on (instrumentation).
        self.on_create: list[Callable[[AsyncEngine], None]] = []

    def acquire(self, name: str, path: Path) -> tuple[TenantEngine, list[TenantEngine]]:
        """The engine of ``name`` (one more user) and the engines its arrival evicted (to retire).

        Synchronous on purpose: lookup, insert and eviction happen without an await in
        between, so concurrent callers can never create two cached engines for one file.
        """
        entry = self._cache.get(name)
        evicted: list[TenantEngine] = []
        if entry is not None:
            self._cache.move_to_end(name)
        else:
            # mode=rw: a session must fail on a tenant that was never created (or was dropped)
            # instead of silently creating an empty database file.
            quoted = urllib.parse.quote(str(path))
            url = URL.create("sqlite+aiosqlite", database=f"file:{quoted}", query={"mode": "rw", "uri": "true"})
            # Each aiosqlite connection owns a thread: keep one idle connection per cached file
            # and let bursts use short-lived overflow connections.
            engine = create_sqlite_engine(url, pool_size=1, max_overflow=self._pool_size - 1, echo=self._echo)
            if os.environ.get(FAULT_FULL_ENV) == "1":
                _install_full_disk_fault(engine, path)
            for hook in self.on_create:
                hook(engine)
            entry = TenantEngine(engine)
            self._cache[name] = entry
            while len(self._cache) > self._size:
                evicted.append(self._cache.popitem(last=False)[1])
        entry.users += 1
        return entry, evicted

    async def release(self, entry: TenantEngine) -> None:
        entry.users -= 1
        if entry.retired and entry.users == 0:
            self._retired.discard(entry)
            await entry.engine.dispose()

    async def forget(self, name: str) -> None:
        """Retires the engine of a file about to be deleted."""
        entry = self._cache.pop(name, None)
        if entry is not None:
            await self.retire(entry)

    async def retire(self, entry: TenantEngine) -> None:
        # Disposing an engine under a live session would orphan its connection, so an engine
        # in use is only marked; the last session to release it disposes it.
        entry.retired = True
        if entry.users == 0:
            await entry.engine.dispose()
        else:
            self._retired.add(entry)

    def cached(self) -> list[AsyncEngine]:
        """The engines of the open tenant files."""
        return [entry.engine for entry in self._cache.values()]

    def all_engines(self) -> list[AsyncEngine]:
        """Every engine, cached or retired; forgets them (the caller disposes them)."""
        engines = [entry.engine for entry in (*self._cache.values(), *self._retired)]
        self._cache.clear()
        self._retired.clear()
        return engines
