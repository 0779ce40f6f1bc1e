"""MariaDB/MySQL helpers of the benchmarks: server address, cleanup, connection sampling.

Kept free of service imports: the connection sampler runs in a child process
(``spawn``) that imports only this module.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import asyncmy
from sqlalchemy.engine import make_url

_DB_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,50}")
_DROPPABLE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Server:
    """Where the MySQL/MariaDB server is, parsed from a mysql+asyncmy:// URL."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> Server:
        parsed = make_url(url)
        if parsed.get_backend_name() not in ("mysql", "mariadb") or parsed.get_driver_name() != "asyncmy":
            raise SystemExit(f"--mysql-url must be a mysql+asyncmy:// URL, got {url!r}")
        database = parsed.database or "tm_bench"
        if _DB_NAME_RE.fullmatch(database) is None:
            raise SystemExit(f"database name {database!r} must match {_DB_NAME_RE.pattern}")
        return cls(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
            database=database,
        )

    def url(self, database: str) -> str:
        auth = self.user if not self.password else f"{self.user}:{self.password}"
        return f"mysql+asyncmy://{auth}@{self.host}:{self.port}/{database}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def connect(self, **kwargs: Any) -> Any:
        return await asyncmy.connect(host=self.host, port=self.port, user=self.user, password=self.password, **kwargs)


async def fetch_all(server: Server, sql: str, args: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    conn = await server.connect()
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql, args)
            return list(await cur.fetchall())
    finally:
        conn.close()


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with ``prefix`` (``_`` and ``%`` escaped)."""
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


async def drop_databases(server: Server, exact: Sequence[str], prefixes: Sequence[str]) -> int:
    """Drops the named databases and every database whose name starts with one of ``prefixes``."""
    conn = await server.connect(autocommit=True)
    dropped = 0
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            existing = {row[0] for row in await cur.fetchall()}
            names = {name for name in existing if name in exact or any(name.startswith(p) for p in prefixes)}
            for name in sorted(names):
                if _DROPPABLE_RE.fullmatch(name) is None:
                    continue
                await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                dropped += 1
    finally:
        conn.close()
    return dropped


# --------------------------------------------------------------------------- connection sampler


@dataclass
class ConnectionPeaks:
    samples: int = 0
    baseline_threads: int = 0
    peak_threads: int = 0
    peak_owned: int = 0
    median_interval_ms: float = 0.0
    error: str = ""

    @property
    def delta(self) -> int:
        return self.peak_threads - self.baseline_threads


@dataclass(frozen=True)
class _SamplerSpec:
    server: Server
    core_db: str
    owned_prefixes: tuple[str, ...]
    period: float


class ConnectionSampler:
    """Samples ``Threads_connected`` (server-wide) every ``period`` seconds from a child process.

    A separate process keeps the sampling on time while the service saturates its event
    loop, and keeps the sampler's own work off the service's CPU budget and GIL. It also
    counts the connections whose current database is ``core_db`` or starts with one of
    ``owned_prefixes`` (information_schema.PROCESSLIST): the service's pooled connections
    sit on its core database and a borrowed one may have switched to a tenant database;
    that count is immune to other clients of a shared server. The sampler's own
    connection has no current database; it is part of the pre-run baseline.
    """

    def __init__(self, server: Server, core_db: str, owned_prefixes: Sequence[str], period: float = 0.05) -> None:
        self._spec = _SamplerSpec(server, core_db, tuple(owned_prefixes), period)
        self._process: Any = None
        self._pipe: Connection | None = None
        self.peaks = ConnectionPeaks()

    def __enter__(self) -> ConnectionSampler:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_sampler_main, args=(self._spec, child), name="conn-sampler", daemon=True)
        self._process.start()
        child.close()
        self._pipe = parent
        if not parent.poll(30):
            self._kill()
            raise RuntimeError("connection sampler did not start")
        message = parent.recv()
        if isinstance(message, ConnectionPeaks):  # it failed before the first sample
            self._kill()
            raise RuntimeError(f"connection sampler failed: {message.error}")
        return self

    def __exit__(self, *exc: object) -> None:
        pipe = self._pipe
        if pipe is None:
            return
        try:
            pipe.send("stop")
            if pipe.poll(10):
                peaks = pipe.recv()
                if isinstance(peaks, ConnectionPeaks):
                    self.peaks = peaks
        except (OSError, EOFError):
            pass
        finally:
            pipe.close()
            self._pipe = None
            self._kill()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)


def _sampler_main(spec: _SamplerSpec, pipe: Connection) -> None:
    try:
        asyncio.run(_sample(spec, pipe))
    except BaseException as exc:  # reported to the parent, which decides
        pipe.send(ConnectionPeaks(error=repr(exc)))
    finally:
        pipe.close()


async def _sample(spec: _SamplerSpec, pipe: Connection) -> None:
    peaks = ConnectionPeaks()
    owned_sql = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s" + "".join(
        " OR DB LIKE %s" for _ in spec.owned_prefixes
    )
    owned_args = (spec.core_db, *(like_prefix(p) for p in spec.owned_prefixes))
    conn = await spec.server.connect(autocommit=True)
    intervals: list[float] = []
    try:
        async with conn.cursor() as cur:

            async def sample() -> tuple[int, int]:
                await cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                threads = int((await cur.fetchone())[1])
                await cur.execute(owned_sql, owned_args)
                owned = int((await cur.fetchone())[0])
                return threads, owned

            peaks.baseline_threads, _ = await sample()
            peaks.peak_threads = peaks.baseline_threads
            pipe.send("ready")
            last = time.perf_counter()
            while not pipe.poll():
                threads, owned = await sample()
                peaks.samples += 1
                peaks.peak_threads = max(peaks.peak_threads, threads)
                peaks.peak_owned = max(peaks.peak_owned, owned)
                now = time.perf_counter()
                intervals.append(now - last)
                last = now
                await asyncio.sleep(spec.period)
    finally:
        conn.close()
    intervals.sort()
    peaks.median_interval_ms = intervals[len(intervals) // 2] * 1000 if intervals else 0.0
    pipe.send(peaks)
