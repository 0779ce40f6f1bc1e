"""A private MariaDB server for a test: its own data directory, its own free port.

Tests of several database servers (tenant placement, moving a tenant, replicas) need
servers they may start, stop and reconfigure at will, which the shared server of the
test run is not. ``private_mariadb`` initialises a data directory with
``mariadb-install-db`` under the caller's directory, starts ``mariadbd`` on a free port
of 127.0.0.1 (root without password, reachable over TCP only) and stops it on exit
(SIGTERM, then SIGKILL), so nothing outlives the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncmy

from tests.support.ports import free_port

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.path.exists(p)), None)
        if found:
            return found
    raise AssertionError(f"none of {names} is installed; tests of several database servers need MariaDB's server")


@dataclass
class PrivateMariaDB:
    """A running private server. ``url(db)`` is what a service's configuration names it by."""

    port: int
    root: Path
    process: subprocess.Popen[bytes]
    server_id: int

    host: str = "127.0.0.1"

    def url(self, database: str = "") -> str:
        return f"mysql+asyncmy://root@{self.host}:{self.port}/{database}"

    async def connect(self, **kwargs: object) -> asyncmy.Connection:
        return await asyncmy.connect(host=self.host, port=self.port, user="root", password="", **kwargs)

    async def query(self, sql: str, args: Sequence[object] | None = None) -> list[tuple[object, ...]]:
        """Rows of one statement, on a connection of its own (autocommit)."""
        conn = await self.connect(autocommit=True)
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(sql, args)
                return list(await cursor.fetchall())
        finally:
            conn.close()

    async def databases(self, prefix: str) -> set[str]:
        rows = await self.query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
            (prefix.replace("_", "\\_") + "%",),
        )
        return {str(name) for (name,) in rows}

    def log_tail(self, lines: int = 30) -> str:
        path = self.root / "error.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _server_arguments(root: Path, port: int, server_id: int, binlog: bool, extra: Sequence[str]) -> list[str]:
    args = [
        _binary("mariadbd", "mysqld"),
        "--no-defaults",
        f"--datadir={root / 'data'}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={root / 'mariadb.sock'}",
        f"--pid-file={root / 'mariadb.pid'}",
        f"--log-error={root / 'error.log'}",
        f"--server-id={server_id}",
        "--skip-name-resolve",
        # Small and quick: a test server holds a few tenants.
        "--innodb-buffer-pool-size=32M",
        "--innodb-log-file-size=16M",
        "--performance-schema=OFF",
        "--max-connections=200",
    ]
    if binlog:
        args += [f"--log-bin={root / 'binlog'}", "--binlog-format=ROW", "--log-slave-updates=ON"]
    if os.geteuid() == 0:
        # mariadbd refuses to run as root unless told to; tests in containers often are root.
        args.append("--user=root")
    return [*args, *extra]


async def _wait_until_up(server: PrivateMariaDB) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"mariadbd exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            await server.query("SELECT 1")
            return
        except Exception as exc:
            last = exc
            await asyncio.sleep(0.1)
    raise AssertionError(f"mariadbd was not up within {START_TIMEOUT_S} s ({last!r}):\n{server.log_tail()}")


def _spawn(args: Sequence[str]) -> subprocess.Popen[bytes]:
    # A Popen rather than an asyncio process: it is stopped from a worker thread at teardown,
    # whichever loop is running then.
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own process group: a Ctrl-C meant for pytest does not hit it before teardown.
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.asynccontextmanager
async def private_mariadb(
    root: Path, *, server_id: int = 1, binlog: bool = False, extra_args: Sequence[str] = ()
) -> AsyncIterator[PrivateMariaDB]:
    """A fresh MariaDB under ``root`` (created if missing), stopped and left on disk on exit.

    ``binlog``: write a row-based binary log (a replication primary). ``server_id`` must differ
    between a primary and its replica.
    """
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    installed = await asyncio.create_subprocess_exec(
        _binary("mariadb-install-db", "mysql_install_db"),
        "--no-defaults",
        f"--datadir={root / 'data'}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        *(["--user=root"] if os.geteuid() == 0 else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await installed.communicate()
    if installed.returncode != 0:
        raise AssertionError(f"mariadb-install-db failed:\n{output.decode(errors='replace')}")
    port = free_port()
    process = _spawn(_server_arguments(root, port, server_id, binlog, extra_args))
    server = PrivateMariaDB(port=port, root=root, process=process, server_id=server_id)
    try:
        await _wait_until_up(server)
        yield server
    finally:
        await asyncio.to_thread(_stop, process)


@contextlib.asynccontextmanager
async def replicated_mariadb(root: Path, server_id: int) -> AsyncIterator[tuple[PrivateMariaDB, PrivateMariaDB]]:
    """A private primary (binary log on) and its read replica (GTID replication, started):
    ``server_id`` and the next one."""
    async with (
        private_mariadb(root / "primary", server_id=server_id, binlog=True) as primary,
        private_mariadb(root / "replica", server_id=server_id + 1) as replica,
    ):
        await replica.query(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='root', "
            "MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos"
        )
        await replica.query("START SLAVE")
        yield primary, replica
