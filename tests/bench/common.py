"""Pieces the benchmarks share: settings, the tenants service in-process, the command line and
main(), the report's header, alternating wrk rounds, number formatting.

Benchmarks print numbers; they are not tests (no ``test_`` functions, not collected
by pytest) and never assert timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.mesh.envoy_process import EnvoyProcess
from services.runtime.app import Runtime, StartedApp, start_app, stop_apps
from services.runtime.client import create_mesh_channel
from services.runtime.config import Settings, load_settings
from services.runtime.cpus import usable_cpus
from services.runtime.db import MigrationSet
from services.runtime.heap import settle_after_startup
from services.runtime.logging import configure_logging
from services.runtime.loop import run as run_on_service_loop
from services.runtime.mesh_tls import EDGE, channel_credentials
from services.tenants.app import TENANT_MIGRATIONS
from tests.bench.edge_tools import WrkResult, cpu_seconds, run_wrk
from tests.support.mesh import DomainTenantsApp
from tests.support.open_access import OpenAccess


def bench_settings(database_url: str, data_dir: Path, **overrides: str) -> Settings:
    """Service settings for a benchmark: the process environment, then the benchmark's own values.

    Pool sizes and similar knobs can still be tuned from the environment
    (``TENANTMESH_DB_POOL_SIZE=...``); the database, data dir and log level are the benchmark's.
    """
    env: dict[str, str] = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "TENANTMESH_DATA_DIR": str(data_dir),
            "TENANTMESH_LOG_LEVEL": "warning",
            "TENANTMESH_LOG_FORMAT": "text",
            # In-process benchmarks measure the services, not the transport.
            "TENANTMESH_MESH_TLS": "off",
            # Benchmarks start the services they measure: tenants are provisioned in the tenants
            # service alone unless a benchmark names more (a tenant-scoped service nobody started
            # would hold every tenant's creation).
            "TENANTMESH_LIFECYCLE_SERVICES": "tenants",
        }
    )
    for name in ("TENANTMESH_TENANT_DB_SERVERS", "TENANTMESH_DEFAULT_TENANT_DB_SERVER", "REDIS_URL"):
        env.pop(name, None)
    env.update(overrides)
    settings = load_settings(env)
    configure_logging(settings.log_level, settings.log_format)
    quiet_driver_notes()
    return settings


def quiet_driver_notes() -> None:
    """asyncmy logs every server note (e.g. alembic's named PRIMARY KEY) as a WARNING line."""
    logging.getLogger("asyncmy").setLevel(logging.ERROR)


@dataclass
class TenantsService:
    """The tenants service running in this process on 127.0.0.1:<port>."""

    runtime: Runtime
    app: DomainTenantsApp
    started: StartedApp
    channel: grpc.aio.Channel

    @property
    def port(self) -> int:
        return self.started.server.port

    @property
    def stub(self) -> Any:
        return tenant_service_pb2_grpc.TenantServiceStub(self.channel)

    async def create_tenant(self, slug: str) -> str:
        """A new tenant's id."""
        response = await self.stub.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug)))
        return str(response.tenant.tenant_id)


@contextlib.asynccontextmanager
async def tenants_service(
    settings: Settings, tenant_migrations: MigrationSet = TENANT_MIGRATIONS
) -> AsyncIterator[TenantsService]:
    # Like the in-process test harness: open access, so the numbers are the tenants
    # service's own work (no auth service runs here to issue tokens).
    runtime = await Runtime.open(settings, authentication=OpenAccess())
    started: list[StartedApp] = []
    channel: grpc.aio.Channel | None = None
    try:
        app = DomainTenantsApp(runtime, tenant_migrations=tenant_migrations)
        started.append(await start_app(app, runtime, "127.0.0.1:0"))
        settle_after_startup()  # as a service process does once it is up
        address = f"127.0.0.1:{started[0].server.port}"
        tls = settings.mesh_tls
        # With mesh TLS the benchmark calls as the edge (any identity of the CA would do).
        channel = (
            grpc.aio.insecure_channel(address)
            if tls is None
            else create_mesh_channel(address, app.name, channel_credentials(tls, EDGE)[0])
        )
        yield TenantsService(runtime=runtime, app=app, started=started[0], channel=channel)
    finally:
        if channel is not None:
            await channel.close()
        with contextlib.suppress(Exception):
            await stop_apps(started, 1.0)
        await runtime.close()


# --------------------------------------------------------------------------- numbers


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def print_table(rows: Sequence[tuple[str, str]], indent: str = "  ") -> None:
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        print(f"{indent}{key.ljust(width)}  {value}", flush=True)


_START_LOAD = os.getloadavg()


def load_note() -> str:
    """The load before the benchmark started: other work on the machine skews the numbers."""
    one, five, _ = _START_LOAD
    return f"load average before the run: {one:.2f} (1 min), {five:.2f} (5 min)"


def load_during_note() -> str:
    """The load at the end of a run (its 5-minute figure mostly covers the run itself)."""
    one, five, _ = os.getloadavg()
    return f"load average at the end: {one:.2f} (1 min), {five:.2f} (5 min)"


def load_now() -> str:
    return f"now {os.getloadavg()[0]:.2f} (1 min)"


def print_header(name: str, *, load_now_too: bool = False) -> None:
    """The report's first lines: which benchmark, when, on what machine, under which load."""
    print()
    print(f"== {name}  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"   {platform.node()}  {platform.machine()}  {usable_cpus()} vCPU  Python {platform.python_version()}")
    print(f"   {load_note()}" + (f"; {load_now()}" if load_now_too else ""))


# --------------------------------------------------------------------------- command line and main


def add_wrk_arguments(parser: argparse.ArgumentParser, *, seconds: float, rounds: int, per: str) -> None:
    """--seconds/--connections/--threads/--rounds/--warmup; ``per``: what a round measures ("variant")."""
    parser.add_argument("--seconds", type=float, default=seconds, help=f"seconds per wrk round (default {seconds:g})")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=rounds, help=f"wrk rounds per {per}, alternating (default {rounds})"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help=f"warm-up seconds per {per} (default 2)")


def add_parts_argument(parser: argparse.ArgumentParser, parts: Sequence[str], what: str) -> None:
    """--parts a,b: which of a benchmark's measurements to make (default: all of ``parts``)."""
    names = ",".join(parts)
    parser.add_argument(
        "--parts",
        type=lambda value: tuple(x.strip() for x in value.split(",") if x.strip()),
        default=tuple(parts),
        help=f"{what}: {names} (default all)",
    )


def check_parts_argument(parser: argparse.ArgumentParser, args: argparse.Namespace, parts: Sequence[str]) -> None:
    if not set(args.parts) <= set(parts):
        parser.error(f"--parts: {', '.join(parts)}")


def check_wrk_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.seconds < 1 or args.rounds < 1 or args.threads < 1 or args.connections < args.threads:
        parser.error("need --seconds >= 1, --rounds >= 1, --threads >= 1, --connections >= --threads")


def bench_main(
    make_target: str,
    run: Callable[[Path], Coroutine[Any, Any, object]],
    *,
    needs_wrk: bool = True,
    workdir_prefix: str = "tm-bench-",
) -> int:
    """Runs ``run(workdir)`` on the services' event loop (services/runtime/loop.py, so the numbers
    are theirs): wrk checked first, SIGTERM and Ctrl-C end it cleanly, the work dir is removed."""
    if needs_wrk and shutil.which("wrk") is None:
        print(f"wrk is not installed: apt-get install -y wrk (or `make {make_target}`)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix))
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    try:
        run_on_service_loop(run(workdir))
        return 0
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr)


# --------------------------------------------------------------------------- side-by-side wrk rounds


@dataclass
class WrkTarget:
    """One side of a side-by-side measurement: what wrk loads, through which Envoy, and its rounds."""

    label: str
    url: str
    envoy: EnvoyProcess
    headers: dict[str, str] = field(default_factory=dict)
    rounds: list[WrkResult] = field(default_factory=list)
    # Other processes whose CPU each round adds under their name (an OTLP receiver, say).
    watched: dict[str, int] = field(default_factory=dict)
    # The event loop's Python bytecodes per call by function, when counted (tests/bench/bytecodes.py).
    bytecodes: dict[str, float] = field(default_factory=dict)


def round_line(result: WrkResult) -> str:
    return (
        f"{result.requests_per_s:8.0f} req/s  p50 {result.p50:6.2f} ms  p99 {result.p99:6.2f} ms  "
        f"errors {result.errors}"
    )


async def alternate_rounds(targets: Sequence[WrkTarget], args: argparse.Namespace) -> None:
    """A warm-up of each target, then ``args.rounds`` rounds taking the targets in turn, so that a
    slower minute of the shared machine falls on every side alike. Each round is printed as it ends."""
    for target in targets:
        await run_wrk(
            target.url,
            target.envoy,
            seconds=args.warmup,
            connections=args.connections,
            threads=args.threads,
            headers=target.headers,
            require_result=False,
        )
    width = max(len(target.label) for target in targets)
    for index in range(args.rounds):
        for target in targets:
            before = {name: cpu_seconds(pid) for name, pid in target.watched.items()}
            result = await run_wrk(
                target.url,
                target.envoy,
                seconds=args.seconds,
                connections=args.connections,
                threads=args.threads,
                headers=target.headers,
            )
            for name, pid in target.watched.items():
                result.cpu_s[name] = cpu_seconds(pid) - before[name]
            target.rounds.append(result)
            print(
                f"    round {index + 1} {target.label.ljust(width)} {round_line(result)}", file=sys.stderr, flush=True
            )


def cpu_per_request_us(rounds: Sequence[WrkResult], processes: Sequence[str]) -> float:
    """CPU per request in ``processes`` (names of ``WrkResult.cpu_s``) over all ``rounds``: unlike
    the rate, this barely moves when other work shares the machine, and on a machine these
    processes alone saturate, the ratio of two sides' figures is their throughput ratio."""
    requests = sum(r.requests_per_s * r.seconds for r in rounds)
    spent = sum(r.cpu_s.get(name, 0.0) for r in rounds for name in processes)
    return 1e6 * spent / requests if requests else float("nan")


def cpu_rows(
    sides: Sequence[tuple[str, Sequence[WrkResult]]], processes: Sequence[str], counted: str
) -> list[tuple[str, str]]:
    """Two table rows: each side's CPU per request (``counted`` says which processes), and the
    first side's figure over each other's."""
    cpu = [(label, cpu_per_request_us(rounds, processes)) for label, rounds in sides]
    base = cpu[0][1]
    return [
        ("CPU per request", " | ".join(f"{label} {us:.0f} us" for label, us in cpu) + f"  ({counted}, all rounds)"),
        (
            f"CPU ratio {cpu[0][0]} / x",
            " | ".join(f"{label} {base / us:.2f}" for label, us in cpu[1:])
            + "  (the ratio on a machine these processes alone saturate)",
        ),
    ]


def all_rounds(targets: Sequence[WrkTarget]) -> str:
    """Every round's req/s, per target: the spread behind the best rounds reported."""
    return " | ".join(f"{t.label} " + " ".join(f"{r.requests_per_s:.0f}" for r in t.rounds) for t in targets)
