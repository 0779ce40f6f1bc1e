"""Benchmark: the cost of the global per-tenant rate limit — GetTenant through Envoy with it off and on.

    python -m tests.bench.bench_rate_limit [--seconds 10] [--rounds 3] [--connections 50] [--threads 2]

One tenants service runs in this process behind four real Envoys (1 worker each):

    off    the edge's own per-instance limits (as without Redis)
    bare   every request of the tenant also asked of a bare grpc.aio server that answers OK (no
           interceptors, no runtime, the request not parsed): the ceiling of any Python service
    no-op  every request of the tenant also asked of a rate limit service that answers OK without
           looking (same server, interceptors and handler, no descriptors read, no Redis): the price
           of the gRPC call alone, so the ceiling of the ratio any Python service can reach here
    on     every request of the tenant also asked of the rate limit service, which runs in a process
           of its own (tests/bench/rate_limit_server.py) and counts in Redis (TEST_REDIS_URL, else
           the local server's DB 1); the tenant's plan is high enough never to trip

``wrk`` (HTTP/1.1 over TLS, with the tenant's x-tenant-id) alternates between them round after
round and the best round of each is reported, with the throughput ratio on/off (target >= 0.8),
the CPU each process spent per request and the machine's load. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.mesh.apps import RATE_LIMIT_PACKAGE
from services.mesh.devtls import ensure_dev_tls
from services.mesh.edge import GlobalRateLimit, Upstream
from services.runtime.cpus import usable_cpus
from services.runtime.loop import run as run_on_service_loop
from tests.bench.common import bench_settings, cpu_rows, load_note, print_table, tenants_service, verdict
from tests.bench.edge_tools import WrkResult, best_round, cpu_seconds, run_wrk, running_envoy

TARGET = 0.8
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
# Never trips during a run: the benchmark measures the asking, not the refusing.
PLANS = {"default": {"tenant": "1000000000/m", "route": "1000000000/m"}}


@dataclass
class Variant:
    label: str
    url: str = ""
    envoy: Any = None
    rounds: list[WrkResult] = field(default_factory=list)
    # Its rate limit service's process (0: the edge asks none).
    limiter_pid: int = 0


@contextlib.asynccontextmanager
async def rate_limit_process(
    workdir: Path, tenants_port: int, redis_url: str, *, mode: str = ""
) -> AsyncIterator[tuple[int, int]]:
    """The rate limit service's (port, pid); ``mode``: "no-op" (one that answers OK without
    looking) or "bare" (a bare grpc.aio server answering OK) — see tests/bench/rate_limit_server.py."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "TENANTMESH_TENANTS_ADDR": f"127.0.0.1:{tenants_port}",
        "TENANTMESH_RATE_LIMIT_PLANS": json.dumps(PLANS),
    }
    data = workdir / f"ratelimit-{mode or 'on'}"
    data.mkdir()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.rate_limit_server",
        str(data),
        *([f"--{mode}"] if mode else []),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()
        if len(line) != 2 or line[0] != "port":
            raise RuntimeError("the rate limit service did not start")
        yield int(line[1]), proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        await proc.wait()


async def run(args: argparse.Namespace, workdir: Path) -> list[Variant]:
    """Each variant with its rounds (its rate limit service's CPU counted in every round)."""
    tls = ensure_dev_tls(workdir / "tls")
    off, bare, no_op, on = Variant("off"), Variant("bare"), Variant("no-op"), Variant("on")
    variants = [off, bare, no_op, on]
    data = workdir / "tenants"
    async with (
        tenants_service(bench_settings(f"sqlite+aiosqlite:///{data / 'core.db'}", data)) as service,
        contextlib.AsyncExitStack() as stack,
    ):
        response = await service.stub.CreateTenant(
            pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=f"rl-bench-{os.getpid()}"))
        )
        tenant_id = response.tenant.tenant_id
        for variant in variants:
            overrides: dict[str, Any] = {}
            if variant is not off:
                port, variant.limiter_pid = await stack.enter_async_context(
                    rate_limit_process(
                        workdir, service.port, args.redis_url, mode="" if variant is on else variant.label
                    )
                )
                upstream = Upstream("ratelimit", "127.0.0.1", port, (RATE_LIMIT_PACKAGE,))
                overrides["global_rate_limit"] = GlobalRateLimit(upstream)
            envoy, edge = await stack.enter_async_context(
                running_envoy(
                    [service.started], service.runtime.settings, tls, workdir / f"envoy-{variant.label}", 1, **overrides
                )
            )
            variant.url, variant.envoy = f"https://127.0.0.1:{edge.https_port}/v1/tenants/{tenant_id}", envoy
        headers = {"x-tenant-id": tenant_id}
        print("bench_rate_limit: warming up", file=sys.stderr, flush=True)
        for variant in variants:
            await run_wrk(
                variant.url,
                variant.envoy,
                seconds=args.warmup,
                connections=args.connections,
                threads=args.threads,
                headers=headers,
                require_result=False,
            )
        for round_index in range(args.rounds):
            for variant in variants:
                before = cpu_seconds(variant.limiter_pid) if variant.limiter_pid else 0.0
                result = await run_wrk(
                    variant.url,
                    variant.envoy,
                    seconds=args.seconds,
                    connections=args.connections,
                    threads=args.threads,
                    headers=headers,
                )
                if variant.limiter_pid:
                    result.cpu_s["ratelimit"] = cpu_seconds(variant.limiter_pid) - before
                variant.rounds.append(result)
                print(
                    f"  round {round_index + 1} {variant.label:5s} {result.requests_per_s:8.0f} req/s  "
                    f"p99 {result.p99:6.2f} ms  non-2xx/errors {result.errors}",
                    file=sys.stderr,
                    flush=True,
                )
    return variants


def per_call_us(result: WrkResult, process: str) -> float:
    calls = result.requests_per_s * result.seconds
    return 1e6 * result.cpu_s.get(process, 0.0) / calls if calls else float("nan")


# The processes a request costs CPU in (wrk's own share included: it competes for the same cores).
CPU_PROCESSES = ("service", "envoy", "ratelimit", "wrk")


def report(args: argparse.Namespace, variants: list[Variant]) -> None:
    off, bare, no_op, on = variants
    print()
    print(f"== bench_rate_limit  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"   {platform.node()}  {platform.machine()}  {usable_cpus()} vCPU  Python {platform.python_version()}")
    print(f"   {load_note()}; after the run: {os.getloadavg()[0]:.2f} (1 min)")
    print(
        f"   GET /v1/tenants/{{id}} (GetTenant) through Envoy, wrk HTTP/1.1 over TLS, {args.connections} connections, "
        f"{args.threads} threads, {args.seconds:g} s x {args.rounds} rounds per variant (alternating); best round shown"
    )
    print("   one tenants service (SQLite) in this process, one Envoy (1 worker) per variant; rate limit services")
    print("   in processes of their own on Redis, two descriptors per request (tenant, tenant + service)")
    base = best_round(off.rounds)
    rows = []
    for variant in variants:
        best = best_round(variant.rounds)
        ratio = best.requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
        limiter = f"  ratelimit {per_call_us(best, 'ratelimit'):5.0f} us" if variant.limiter_pid else ""
        rows.append(
            (
                variant.label,
                f"{best.requests_per_s:8.0f} req/s  ratio {ratio:4.2f}  "
                f"p50 {best.p50:6.2f} ms  p99 {best.p99:6.2f} ms  "
                f"CPU/call service {per_call_us(best, 'service'):5.0f} us  envoy {per_call_us(best, 'envoy'):4.0f} us"
                f"{limiter}  non-2xx/errors {best.errors}",
            )
        )
    print_table(rows)
    ratio = best_round(on.rounds).requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
    ceiling = best_round(no_op.rounds).requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
    grpc_ceiling = best_round(bare.rounds).requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
    print()
    print_table(
        [
            (
                "all rounds req/s",
                " | ".join(f"{v.label} " + " ".join(f"{r.requests_per_s:.0f}" for r in v.rounds) for v in variants),
            ),
            ("on / off", f"{ratio:.2f}  (target >= {TARGET})  {verdict(ratio >= TARGET)}"),
            ("no-op / off", f"{ceiling:.2f}  (the service's ceiling: it answers OK without looking)"),
            ("bare / off", f"{grpc_ceiling:.2f}  (grpc.aio's ceiling: a bare server answering OK)"),
            *cpu_rows(
                [(v.label, v.rounds) for v in variants], CPU_PROCESSES, "service + Envoy + rate limit service + wrk"
            ),
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_rate_limit", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per wrk round (default 10)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant, alternating (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per variant (default 2)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL),
        help=f"where the counters live (TEST_REDIS_URL, else {DEFAULT_REDIS_URL})",
    )
    args = parser.parse_args(argv)
    if args.connections < args.threads or args.threads < 1 or args.rounds < 1 or args.seconds < 1:
        parser.error("need --threads >= 1, --connections >= --threads, --rounds >= 1, --seconds >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (or `make bench-rate-limit`)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tm-bench-rl-"))
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    try:
        variants = run_on_service_loop(run(args, workdir))
        report(args, variants)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
