"""Benchmark: the cost of observability — GetTenant through Envoy with tracing and metrics off and on.

    python -m tests.bench.bench_observability [--seconds 10] [--rounds 3] [--connections 50] [--threads 2]
        [--bytecodes SECONDS]

Five tenants services run side by side in this process, each behind its own real Envoy:

    off            no tracing, no metrics (TENANTMESH_METRICS_PORT=off)
    metrics        Prometheus metrics on (the default), no tracing
    trace 100%     metrics, and every request traced by Envoy and the service, exported over
                   OTLP/gRPC to a local receiver in another process (tests/bench/otlp_sink.py)
    trace default  metrics, and tracing at the default sampling (parent-based, 1 % of new traces)
    edge 100% only metrics, and Envoy tracing every request with the service not tracing (what
                   the edge's own tracing costs, and the service's share of the headers it adds)

``wrk`` (HTTP/1.1 over TLS) alternates between them round after round (off, metrics, trace
100 %, trace default, edge only, off, ...) and the best round of each is reported, with throughput ratios
against "off" and the CPU the service process and Envoy spent per call; then the CPU per request
of every process the machine runs for it (service, Envoy, the receiver, wrk) over all rounds,
whose ratio holds still when other work shares the machine. Prints numbers;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.mesh.devtls import ensure_dev_tls
from services.runtime.interceptors.request_id import request_id_stage
from services.runtime.telemetry.settings import DEFAULT_SAMPLE_RATIO
from tests.bench.bytecodes import BytecodeCounter, compare, split
from tests.bench.common import (
    WrkTarget,
    add_wrk_arguments,
    all_rounds,
    alternate_rounds,
    bench_main,
    bench_settings,
    check_wrk_arguments,
    cpu_rows,
    print_header,
    print_table,
    tenants_service,
    verdict,
)
from tests.bench.edge_tools import WrkResult, best_round, run_wrk, running_envoy

TARGET_FULL = 0.85
TARGET_DEFAULT = 0.95
# What a request costs the machine: the OTLP receiver only works for the traced variants.
CPU_PROCESSES = ("service", "envoy", "receiver", "wrk")


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
    # What the edge's tracing costs on its own: Envoy traces every request, the service (metrics
    # on) records nothing and only reads the headers the edge adds.
    Variant("edge 100% only", {"OTEL_SDK_DISABLED": "true"}, edge_sample_percent=100.0),
)


@contextlib.asynccontextmanager
async def otlp_sink() -> AsyncIterator[tuple[int, int, int]]:
    """The sink's (gRPC port, HTTP port, process id)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench.otlp_sink", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        yield int(line[1]), int(line[2]), proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


def per_call_us(result: WrkResult, process: str) -> float:
    calls = result.requests_per_s * result.seconds
    return 1e6 * result.cpu_s.get(process, 0.0) / calls if calls else float("nan")


async def run(args: argparse.Namespace, workdir: Path) -> list[WrkTarget]:
    tls = ensure_dev_tls(workdir / "tls")
    targets: list[WrkTarget] = []
    async with otlp_sink() as (sink_port, _, sink_pid), contextlib.AsyncExitStack() as stack:
        endpoint = f"http://127.0.0.1:{sink_port}"
        for index, variant in enumerate(VARIANTS):
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
            tenant_id = await service.create_tenant(f"obs-bench-{index}")
            envoy, settings = await stack.enter_async_context(
                running_envoy([service.started], service.runtime.settings, tls, workdir / f"envoy-{index}", 1, **edge)
            )
            url = f"https://127.0.0.1:{settings.https_port}/v1/tenants/{tenant_id}"
            # The receiver's CPU counts for the variants that export to it: it shares the machine.
            watched = {"receiver": sink_pid} if variant.edge_sample_percent is not None else {}
            targets.append(WrkTarget(variant.label, url, envoy, watched=watched))
        print("bench_observability: warming up", file=sys.stderr, flush=True)
        await alternate_rounds(targets, args)
        if args.bytecodes:
            for target in targets:
                target.bytecodes = await count_bytecodes(target, args)
    return targets


async def count_bytecodes(target: WrkTarget, args: argparse.Namespace) -> dict[str, float]:
    """The event loop's bytecodes per call of ``target``, counted for ``--bytecodes`` seconds under load."""
    load = asyncio.create_task(
        run_wrk(
            target.url,
            target.envoy,
            seconds=args.bytecodes + 2,
            connections=args.connections,
            threads=args.threads,
            require_result=False,
        )
    )
    await asyncio.sleep(1)
    with BytecodeCounter(marker=request_id_stage) as counter:
        await asyncio.sleep(args.bytecodes)
    await load
    return counter.per_call()


def report(args: argparse.Namespace, measured: list[WrkTarget]) -> None:
    print_header("bench_observability")
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
                item.label,
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
    edge = best_round(measured[4].rounds)
    print()
    print_table(
        [
            (
                "all rounds req/s",
                all_rounds(measured),
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
            (
                "CPU per call of the edge's tracing",
                f"envoy {per_call_us(edge, 'envoy') - per_call_us(metrics_best, 'envoy'):+.0f} us, "
                f"service {per_call_us(edge, 'service') - per_call_us(metrics_best, 'service'):+.0f} us "
                "(edge 100% only vs metrics only)",
            ),
            *cpu_rows(
                [(item.label, item.rounds) for item in measured],
                CPU_PROCESSES,
                "service + Envoy + OTLP receiver + wrk",
            ),
        ]
    )
    if args.bytecodes:
        report_bytecodes(measured)


def report_bytecodes(measured: list[WrkTarget]) -> None:
    parts = [split(item.bytecodes) for item in measured]
    rows = []
    for part, title in (("own", "the calls' own code"), ("db:", "database layers"), ("loop:", "event loop")):
        totals = " | ".join(
            f"{item.label} {sum(p[part].values()):.0f}" for item, p in zip(measured, parts, strict=True)
        )
        rows.append((f"bytecodes per call, {title}", totals))
    print()
    print_table(rows)
    print(
        "   (the database layers' and the loop's share vary with how the calls fall on cache expiries and loop turns)"
    )
    for item, item_parts in zip(measured[1:], parts[1:], strict=True):
        print(f"   {item.label} beyond {measured[0].label}, the calls' own code by function (bytecodes per call):")
        for name, before, after in compare(parts[0]["own"], item_parts["own"], top=12):
            print(f"     {after - before:+7.1f}  ({before:6.1f} -> {after:6.1f})  {name}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_observability", description=__doc__.split("\n")[0]
    )
    add_wrk_arguments(parser, seconds=10.0, rounds=3, per="variant")
    parser.add_argument(
        "--bytecodes",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the rounds, count the event loop's Python bytecodes per call of each variant for this long "
        "(a count the machine's load does not change; the service runs about 20x slower meanwhile)",
    )
    args = parser.parse_args(argv)
    check_wrk_arguments(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    async def measure(workdir: Path) -> None:
        report(args, await run(args, workdir))

    return bench_main("bench-observability", measure, workdir_prefix="tm-bench-obs-")


if __name__ == "__main__":
    sys.exit(main())
