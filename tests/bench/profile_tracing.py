"""What tracing costs the service per call: GetTenant called in-process (gRPC, no edge).

    python -m tests.bench.profile_tracing [--calls 2000] [--concurrency 10] [--rounds 3] [--profile MODE]

One tenants service (SQLite) with tracing on at 100 % (parent-based), exporting over OTLP/gRPC to
a receiver in another process (tests/bench/otlp_sink.py), and one with tracing off. Each round
calls GetTenant ``--calls`` times from ``--concurrency`` callers in each mode:

    bare       the service without tracing or metrics (TENANTMESH_METRICS_PORT=off)
    off        the service without tracing, metrics on (the default)
    unsampled  tracing on, the caller's traceparent says not sampled (flags 00), as the edge
               sends for most calls
    sampled    tracing on, the caller's traceparent says sampled (flags 01)

and prints the process's CPU time per call (every thread: the exporter's encoding and sending
is flushed inside the window), which is steadier than throughput on a shared machine. The
client's share is in every mode alike, so the differences are the service's. ``--profile MODE``
adds a cProfile of that mode's calls (event loop thread only). Under
``valgrind --tool=callgrind --instr-atstart=no`` each mode's calls are bracketed with
``callgrind_control -i on/off`` and ``--callgrind-dump`` writes one dump per mode. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from opentelemetry.trace import SpanContext, TraceFlags
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.telemetry.trace_context import format_traceparent
from tests.bench.bench_observability import otlp_sink
from tests.bench.common import TenantsService, bench_settings, load_note, tenants_service

MODES = ("bare", "off", "unsampled", "sampled")


def _traceparent(index: int, sampled: bool) -> str:
    context = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736 + index,
        span_id=0x00F067AA0BA902B7 + index,
        is_remote=True,
        trace_flags=TraceFlags(1 if sampled else 0),
    )
    return format_traceparent(context)


async def _calls(service: TenantsService, tenant_id: str, mode: str, calls: int, concurrency: int) -> None:
    stub = service.stub
    request = pb.GetTenantRequest(tenant_id=tenant_id)
    counter = iter(range(calls))

    async def caller() -> None:
        for index in counter:
            metadata = () if mode in ("bare", "off") else (("traceparent", _traceparent(index, mode == "sampled")),)
            await stub.GetTenant(request, metadata=metadata)

    await asyncio.gather(*(caller() for _ in range(concurrency)))


async def _callgrind(switch: str) -> None:
    if shutil.which("callgrind_control") is None:
        return
    proc = await asyncio.create_subprocess_exec(
        "callgrind_control",
        *switch.split(),
        str(os.getpid()),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await proc.wait()


async def _flush(service: TenantsService) -> None:
    tracing = service.runtime.tracing
    if tracing is not None:
        await asyncio.to_thread(tracing.flush)


async def run(args: argparse.Namespace) -> None:
    print(load_note())
    with tempfile.TemporaryDirectory(prefix="profile-tracing-") as tmp:
        workdir = Path(tmp)
        async with otlp_sink() as (sink_port, _, _):
            traced_env = {
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
                "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            }
            services: dict[str, TenantsService] = {}
            tenants: dict[str, str] = {}
            async with (
                tenants_service(
                    bench_settings(
                        f"sqlite+aiosqlite:///{workdir / 'bare' / 'core.db'}",
                        workdir / "bare",
                        OTEL_EXPORTER_OTLP_ENDPOINT="",
                        TENANTMESH_METRICS_PORT="off",
                    )
                ) as bare,
                tenants_service(
                    bench_settings(
                        f"sqlite+aiosqlite:///{workdir / 'off' / 'core.db'}",
                        workdir / "off",
                        OTEL_EXPORTER_OTLP_ENDPOINT="",
                        TENANTMESH_METRICS_PORT="0",
                    )
                ) as plain,
                tenants_service(
                    bench_settings(
                        f"sqlite+aiosqlite:///{workdir / 'on' / 'core.db'}",
                        workdir / "on",
                        TENANTMESH_METRICS_PORT="0",
                        **traced_env,
                    )
                ) as traced,
            ):
                services = {"bare": bare, "off": plain, "unsampled": traced, "sampled": traced}
                tenants = {
                    "bare": await bare.create_tenant("prof-bare"),
                    "off": await plain.create_tenant("prof-off"),
                    "on": await traced.create_tenant("prof-on"),
                }
                for mode in MODES:  # warm caches and code paths
                    await _calls(
                        services[mode], tenants[mode if mode in ("bare", "off") else "on"], mode, 300, args.concurrency
                    )
                await _flush(traced)
                results: dict[str, list[float]] = {mode: [] for mode in MODES}
                for _ in range(args.rounds):
                    for mode in MODES:
                        service, tenant_id = services[mode], tenants[mode if mode in ("bare", "off") else "on"]
                        profile = cProfile.Profile() if args.profile == mode else None
                        await _callgrind("-i on")
                        cpu = time.process_time()
                        if profile is not None:
                            profile.enable()
                        await _calls(service, tenant_id, mode, args.calls, args.concurrency)
                        await _flush(service)
                        if profile is not None:
                            profile.disable()
                        results[mode].append((time.process_time() - cpu) / args.calls * 1e6)
                        await _callgrind("-i off")
                        if args.callgrind_dump:
                            await _callgrind(f"--dump={mode}")
                        if profile is not None:
                            stats = pstats.Stats(profile).strip_dirs()
                            stats.sort_stats("tottime").print_stats(args.top)
                            stats.sort_stats("cumulative").print_stats(args.top)
    print(f"GetTenant in-process, {args.calls} calls x {args.rounds} rounds, {args.concurrency} callers")
    print("process CPU per call (client + service, all threads), us: median of rounds [rounds]")
    base = sorted(results["off"])[len(results["off"]) // 2]
    for mode in MODES:
        values = sorted(results[mode])
        median = values[len(values) // 2]
        rounds = " ".join(f"{v:.0f}" for v in results[mode])
        print(f"  {mode:10} {median:7.0f}   {median - base:+6.0f} vs off   [{rounds}]")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.profile_tracing", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=MODES, help="cProfile this mode's calls")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--callgrind-dump", action="store_true", help="under callgrind: one dump per mode and round")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
