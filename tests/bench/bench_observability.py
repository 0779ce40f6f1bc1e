"""Benchmark: the cost of observability — GetTenant through Envoy with tracing and metrics off and on.

    python -m tests.bench.bench_observability [--seconds 10] [--rounds 3] [--connections 50] [--threads 2]

Four tenants services run side by side in this process, each behind its own real Envoy:

    off            no tracing, no metrics (TENANTMESH_METRICS_PORT=off)
    metrics        Prometheus metrics on (the default), no tracing
    trace 100%     metrics, and every request traced by Envoy and the service, exported over
                   OTLP/gRPC to a local receiver in another process (tests/bench/otlp_sink.py)
    trace default  metrics, and tracing at the default sampling (parent-based, 10 % of new traces)

``wrk`` (HTTP/1.1 over TLS) alternates between them round after round (off, metrics, trace
100 %, trace default, off, ...) and the best round of each is reported, with throughput ratios
against "off" and the CPU the service process and Envoy spent per call. Prints numbers;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.mesh.devtls import ensure_dev_tls
from services.runtime.cpus import usable_cpus
from services.runtime.loop import run as run_on_service_loop
from services.runtime.telemetry.settings import DEFAULT_SAMPLE_RATIO
from tests.bench.common import TenantsService, bench_settings, load_note, print_table, tenants_service, verdict
from tests.bench.edge_tools import WrkResult, best_round, run_wrk, running_envoy

TARGET_FULL = 0.85
TARGET_DEFAULT = 0.95


@dataclass(frozen=True)
class Variant:
    label: str
    env: Mapping[str, str]
    # EdgeSettings overrides; the collector's address is filled in at run time.
    edge_sample_percent: float | None = None


VARIANTS = (
    Variant("off", {"TENANTMESH_METRICS_PORT": "off"}),
    Variant("metrics", {}),
    Variant("trace 100%", {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}, edge_sample_percent=100.0),
    Variant("trace default", {}, edge_sample_percent=DEFAULT_SAMPLE_RATIO * 100),
)


@dataclass
class Measured:
    variant: Variant
    url: str = ""
    envoy: Any = None
    rounds: list[WrkResult] = field(default_factory=list)


@contextlib.asynccontextmanager
async def otlp_sink() -> AsyncIterator[tuple[int, int]]:
    """The sink's (gRPC port, HTTP port)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench.otlp_sink", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        yield int(line[1]), int(line[2])
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


async def create_tenant(service: TenantsService, slug: str) -> str:
    response = await service.stub.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug)))
    return str(response.tenant.tenant_id)


def per_call_us(result: WrkResult, process: str) -> float:
    calls = result.requests_per_s * result.seconds
    return 1e6 * result.cpu_s.get(process, 0.0) / calls if calls else float("nan")


async def run(args: argparse.Namespace, workdir: Path) -> list[Measured]:
    tls = ensure_dev_tls(workdir / "tls")
    measured = [Measured(v) for v in VARIANTS]
    async with otlp_sink() as (sink_port, _), contextlib.AsyncExitStack() as stack:
        endpoint = f"http://127.0.0.1:{sink_port}"
        for index, item in enumerate(measured):
            variant = item.variant
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "", **variant.env}
            edge: dict[str, object] = {}
            if variant.edge_sample_percent is not None:
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
                edge = {
                    "tracing_collector": f"127.0.0.1:{sink_port}",
                    "tracing_sample_percent": variant.edge_sample_percent,
                }
            data = workdir / f"data-{index}"
            service = await stack.enter_async_context(
                tenants_service(bench_settings(f"sqlite+aiosqlite:///{data / 'core.db'}", data, **env))
            )
            tenant_id = await create_tenant(service, f"obs-bench-{index}")
            envoy, settings = await stack.enter_async_context(
                running_envoy([service.started], service.runtime.settings, tls, workdir / f"envoy-{index}", 1, **edge)
            )
            item.url = f"https://127.0.0.1:{settings.https_port}/v1/tenants/{tenant_id}"
            item.envoy = envoy
        print("bench_observability: warming up", file=sys.stderr, flush=True)
        for item in measured:
            await run_wrk(
                item.url,
                item.envoy,
                seconds=args.warmup,
                connections=args.connections,
                threads=args.threads,
                require_result=False,
            )
        for round_index in range(args.rounds):
            for item in measured:
                result = await run_wrk(
                    item.url, item.envoy, seconds=args.seconds, connections=args.connections, threads=args.threads
                )
                item.rounds.append(result)
                print(
                    f"  round {round_index + 1} {item.variant.label:14s} {result.requests_per_s:8.0f} req/s  "
                    f"p99 {result.p99:6.2f} ms  errors {result.errors}",
                    file=sys.stderr,
                    flush=True,
                )
    return measured


def report(args: argparse.Namespace, measured: list[Measured]) -> None:
    print()
    print(f"== bench_observability  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"   {platform.node()}  {platform.machine()}  {usable_cpus()} vCPU  Python {platform.python_version()}")
    print(f"   {load_note()}")
    print(
        f"   GET /v1/tenants/{{id}} (GetTenant) through Envoy, wrk HTTP/1.1 over TLS, {args.connections} connections, "
        f"{args.threads} threads, {args.seconds:g} s x {args.rounds} rounds per variant (alternating); best round shown"
    )
    print("   each variant: its own tenants service (SQLite) in this process and its own Envoy (1 worker)")
    base = best_round(measured[0].rounds)
    rows = []
    for item in measured:
        best = best_round(item.rounds)
        ratio = best.requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
        rows.append(
            (
                item.variant.label,
                f"{best.requests_per_s:8.0f} req/s  ratio {ratio:4.2f}  "
                f"p50 {best.p50:6.2f} ms  p99 {best.p99:6.2f} ms  "
                f"CPU/call service {per_call_us(best, 'service'):6.0f} us  envoy {per_call_us(best, 'envoy'):5.0f} us  "
                f"errors {best.errors}",
            )
        )
    print_table(rows)
    full, default = best_round(measured[2].rounds), best_round(measured[3].rounds)
    full_ratio = full.requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
    default_ratio = default.requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
    metrics_best = best_round(measured[1].rounds)
    print()
    print_table(
        [
            (
                "all rounds req/s",
                " | ".join(
                    f"{m.variant.label} " + " ".join(f"{r.requests_per_s:.0f}" for r in m.rounds) for m in measured
                ),
            ),
            ("trace 100% / off", f"{full_ratio:.2f}  (target >= {TARGET_FULL})  {verdict(full_ratio >= TARGET_FULL)}"),
            (
                f"trace default ({DEFAULT_SAMPLE_RATIO:.0%}) / off",
                f"{default_ratio:.2f}  (target >= {TARGET_DEFAULT})  {verdict(default_ratio >= TARGET_DEFAULT)}",
            ),
            (
                "CPU per call of tracing at 100%",
                f"service {per_call_us(full, 'service') - per_call_us(metrics_best, 'service'):+.0f} us, "
                f"envoy {per_call_us(full, 'envoy') - per_call_us(metrics_best, 'envoy'):+.0f} us (vs metrics only)",
            ),
            (
                "CPU per call of metrics",
                f"service {per_call_us(metrics_best, 'service') - per_call_us(base, 'service'):+.0f} us (vs off)",
            ),
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_observability", description=__doc__.split("\n")[0]
    )
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
        print("wrk is not installed: apt-get install -y wrk (or `make bench-observability`)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tm-bench-obs-"))
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    try:
        measured = run_on_service_loop(run(args, workdir))
        report(args, measured)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
