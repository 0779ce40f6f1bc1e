"""Benchmark: the registry — ResolveService through Envoy vs a trivial RPC, and Watch fan-out.

    python -m tests.bench.bench_registry [--seconds 8] [--watchers 1000] [--per-channel 100]
        [--connections 50] [--threads 2] [--rounds 2] [--updates 5]

Runs tenants + auth + registry in this process with token authentication
(tests/support/registry.py, SQLite in a temp dir), registers one service with three
instances (a scripted health probe marks them healthy) and logs in as the platform
administrator. Then:

1. Through a real Envoy (TLS, dev certificate, free ports, dynamic base id, access log
   /dev/null, rate limits raised), ``wrk`` alternates the public
   ``GET /v1/meta/server-info`` with ``GET /v1/services/{name}:resolve`` (bearer token:
   the route needs ``registry.instances.resolve``); best round of each, and the ratio.
2. Watch fan-out: a separate client process opens ``--watchers`` native gRPC Watch
   streams straight to the registry server (not through Envoy), ``--per-channel`` streams
   per channel, each channel its own HTTP/2 connection. Once every stream has sent
   SYNCED, the parent calls UpdateService ``--updates`` times; for each watcher the
   time from the call (CLOCK_MONOTONIC, shared by both processes) until its UPDATED
   message arrives is recorded.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import ssl
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2
from tenantmesh.registry.v1 import instance_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as pb_grpc

from services.mesh.devtls import ensure_dev_tls
from services.runtime.heap import settle_after_startup
from tests.bench.common import (
    WrkTarget,
    add_parts_argument,
    add_wrk_arguments,
    alternate_rounds,
    bench_main,
    check_parts_argument,
    check_wrk_arguments,
    load_note,
    percentile,
    print_header,
    print_table,
    quiet_driver_notes,
    verdict,
)
from tests.bench.edge_tools import WrkResult, best_round, cpu_seconds, running_envoy
from tests.support.registry import RegistryWorld, SwitchProbe, http_service, registry_world

PUBLIC_PATH = "/v1/meta/server-info"
TARGET_RATIO = 0.7
TARGET_P99_MS = 200.0
SERVICE_NAME = "bench-resolve"
# Production-like registry rounds: the test harness's 0.05 s ticks would load the server.
# Health checks every second with threshold 1 so the three instances turn healthy quickly.
REGISTRY_ENV = {
    "TENANTMESH_REGISTRY_TICK_SECONDS": "1.0",
    "TENANTMESH_REGISTRY_HEALTH_INTERVAL_SECONDS": "1.0",
    "TENANTMESH_REGISTRY_HEALTH_HEALTHY_THRESHOLD": "1",
    "TENANTMESH_REGISTRY_WATCH_KEEPALIVE_SECONDS": "30",
    "TENANTMESH_LOG_LEVEL": "warning",
}


# --------------------------------------------------------------------------- Envoy + wrk


async def check(url: str, headers: dict[str, str], ca: Path) -> str:
    def get() -> str:
        request = urllib.request.Request(url, headers=headers)
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return str(response.read().decode())

    return await asyncio.to_thread(get)


@dataclass
class EdgeRun:
    public: list[WrkResult] = field(default_factory=list)
    resolve: list[WrkResult] = field(default_factory=list)


async def measure_edge(args: argparse.Namespace, world: RegistryWorld, token: str, workdir: Path) -> EdgeRun:
    tls = ensure_dev_tls(workdir / "tls")
    run = EdgeRun()
    auth = {"authorization": f"Bearer {token}"}
    mesh = world.mesh
    async with running_envoy(mesh.started, mesh.runtime.settings, tls, workdir / "envoy") as (envoy, edge):
        port = edge.https_port
        base = f"https://127.0.0.1:{port}"
        endpoints: tuple[tuple[str, str, dict[str, str], list[WrkResult]], ...] = (
            ("public", base + PUBLIC_PATH, {}, run.public),
            ("resolve", f"{base}/v1/services/{SERVICE_NAME}:resolve", auth, run.resolve),
        )
        for _, url, headers, _ in endpoints:
            body = await check(url, headers, tls.ca_cert)
            print(f"  edge check {url.removeprefix(base)}: {body[:120]}", file=sys.stderr, flush=True)
        targets = [WrkTarget(label, url, envoy, headers) for label, url, headers, _ in endpoints]
        await alternate_rounds(targets, args)
        run.public, run.resolve = targets[0].rounds, targets[1].rounds
    return run


# --------------------------------------------------------------------------- watchers (a child process)


def _watchers_main(spec: dict[str, Any], pipe: Connection) -> None:
    """Child process: holds the Watch streams, reports plain types."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops this process
    try:
        asyncio.run(_watch_all(spec, pipe))
    except BaseException as exc:  # reported to the parent, which raises it
        with contextlib.suppress(OSError):
            pipe.send({"error": repr(exc)})


async def _watch_all(spec: dict[str, Any], pipe: Connection) -> None:
    count, per_channel = int(spec["watchers"]), int(spec["per_channel"])
    metadata = (("authorization", f"Bearer {spec['token']}"),)
    channels = [
        # A local subchannel pool: each channel its own TCP/HTTP2 connection (not shared).
        grpc.aio.insecure_channel(spec["address"], options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range((count + per_channel - 1) // per_channel)
    ]
    synced = 0
    errors: dict[str, int] = {}
    arrivals: dict[str, list[float]] = {}
    all_synced = asyncio.Event()
    changed = asyncio.Event()  # an arrival or an error

    async def watch(index: int) -> None:
        nonlocal synced
        stub = pb_grpc.DiscoveryServiceStub(channels[index // per_channel])
        call = stub.Watch(pb.WatchRequest(services=[spec["service"]], send_initial_state=True), metadata=metadata)
        try:
            async for message in call:
                if message.type == pb.WATCH_EVENT_TYPE_SYNCED:
                    synced += 1
                    if synced == count:
                        all_synced.set()
                elif message.type == pb.WATCH_EVENT_TYPE_UPDATED and message.HasField("service"):
                    arrivals.setdefault(message.service.display_name, []).append(time.monotonic())
                    changed.set()
        except grpc.aio.AioRpcError as exc:
            key = f"{exc.code().name}: {exc.details()}"
            errors[key] = errors.get(key, 0) + 1
            changed.set()

    started = time.monotonic()
    tasks = [asyncio.create_task(watch(i)) for i in range(count)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_synced.wait(), timeout=float(spec["setup_timeout"]))
    pipe.send({"synced": synced, "setup_s": time.monotonic() - started, "errors": dict(errors)})
    while True:
        command = await asyncio.to_thread(pipe.recv)
        if command[0] == "collect":
            label, deadline = str(command[1]), time.monotonic() + float(command[2])
            while True:
                changed.clear()  # before the check: an arrival after it sets the event again
                if len(arrivals.get(label, [])) >= count - sum(errors.values()) or time.monotonic() >= deadline:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=max(0.0, deadline - time.monotonic()))
            pipe.send({"arrivals": list(arrivals.get(label, [])), "errors": dict(errors)})
        else:
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    usage = os.times()
    pipe.send({"cpu_s": usage.user + usage.system})


@dataclass
class FanoutRound:
    call_ms: float
    latencies_ms: list[float]
    server_cpu_s: float


@dataclass
class FanoutRun:
    watchers: int
    channels: int
    synced: int = 0
    setup_s: float = 0.0
    rounds: list[FanoutRound] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    client_cpu_s: float = 0.0
    server_cpu_idle_s: float = 0.0


def _recv(pipe: Connection) -> dict[str, Any]:
    message: dict[str, Any] = pipe.recv()
    if "error" in message:
        raise RuntimeError(f"watcher process failed: {message['error']}")
    return message


async def measure_fanout(args: argparse.Namespace, world: RegistryWorld, token: str) -> FanoutRun:
    address = world.mesh.runtime.addresses["registry"]
    spec = {
        "address": address,
        "token": token,
        "service": SERVICE_NAME,
        "watchers": args.watchers,
        "per_channel": args.per_channel,
        "setup_timeout": 120.0,
    }
    run = FanoutRun(args.watchers, (args.watchers + args.per_channel - 1) // args.per_channel)
    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=_watchers_main, args=(spec, child_end), daemon=True)
    proc.start()
    catalog = (await world.admin()).catalog
    try:
        ready = await asyncio.to_thread(_recv, parent_end)
        run.synced, run.setup_s = int(ready["synced"]), float(ready["setup_s"])
        print(
            f"  watch: {run.synced}/{args.watchers} streams synced in {run.setup_s:.1f} s", file=sys.stderr, flush=True
        )
        await asyncio.sleep(1.0)  # let the initial-state burst settle
        idle_before = cpu_seconds(os.getpid())
        await asyncio.sleep(2.0)
        run.server_cpu_idle_s = (cpu_seconds(os.getpid()) - idle_before) / 2.0
        for index in range(args.updates):
            label = f"round-{index}"
            cpu_before = cpu_seconds(os.getpid())
            sent = time.monotonic()
            await catalog.UpdateService(
                pb.UpdateServiceRequest(
                    service=service_pb2.Service(name=SERVICE_NAME, display_name=label),
                    update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                )
            )
            call_ms = (time.monotonic() - sent) * 1000
            parent_end.send(("collect", label, 10.0))
            result = await asyncio.to_thread(_recv, parent_end)
            latencies = sorted((t - sent) * 1000 for t in result["arrivals"])
            run.errors = result["errors"]
            fan = FanoutRound(call_ms, latencies, cpu_seconds(os.getpid()) - cpu_before)
            run.rounds.append(fan)
            print(
                f"    update {index + 1}: {len(latencies)}/{args.watchers} received, "
                f"p50 {percentile(latencies, 50):.1f} ms  p99 {percentile(latencies, 99):.1f} ms  "
                f"max {max(latencies, default=float('nan')):.1f} ms  (UpdateService call {call_ms:.1f} ms)",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.sleep(1.0)
        parent_end.send(("stop",))
        run.client_cpu_s = float((await asyncio.to_thread(_recv, parent_end))["cpu_s"])
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
    return run


# --------------------------------------------------------------------------- setup and report


async def populate(world: RegistryWorld, probe: SwitchProbe) -> str:
    """One service with three healthy instances; returns the platform administrator's token."""
    await world.register(http_service(SERVICE_NAME))
    admin = await world.admin()
    for zone in ("a", "b", "c"):
        address = f"https://{zone}.bench-resolve.test"
        probe.healthy[address] = True
        await admin.instances.RegisterInstance(
            pb.RegisterInstanceRequest(
                service=SERVICE_NAME,
                instance=instance_pb2.Instance(address=address, version="1.0.0", metadata={"zone": zone}),
                ttl_seconds=3600,
            )
        )
    deadline = time.monotonic() + 30
    while True:
        resolved = await admin.discovery.ResolveService(pb.ResolveServiceRequest(service=SERVICE_NAME))
        if len(resolved.instances) == 3:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(resolved.instances)} instances turned healthy")
        await asyncio.sleep(0.2)
    await world.events_relayed()
    return await world.admin_token()


def _row(result: WrkResult) -> str:
    seconds = result.seconds or 1.0
    cpu = ", ".join(f"{k} {100 * v / seconds:.0f}%" for k, v in result.cpu_s.items())
    return (
        f"{result.requests_per_s:7.0f} req/s  p50 {result.p50:6.2f} ms  p99 {result.p99:6.2f} ms  "
        f"errors {result.errors}  (CPU {cpu})"
    )


def report(args: argparse.Namespace, edge: EdgeRun | None, fanout: FanoutRun | None) -> None:
    print_header("bench_registry", load_now_too=True)
    print("   tenants + auth + registry in-process, token authentication, SQLite (aiosqlite, temp dir)")
    targets: list[tuple[str, str]] = []
    if edge is not None:
        public, resolve = best_round(edge.public), best_round(edge.resolve)
        ratio = resolve.requests_per_s / public.requests_per_s if public.requests_per_s else 0.0
        print()
        print(
            f"-- Through Envoy (wrk HTTP/1.1 over TLS, {args.connections} connections, {args.threads} threads, "
            f"{args.seconds:g} s x {args.rounds} rounds alternating; best round; Envoy --concurrency 1)"
        )
        print_table(
            [
                (f"public  GET {PUBLIC_PATH}", _row(public)),
                (f"resolve GET /v1/services/{SERVICE_NAME}:resolve (3 healthy instances, bearer token)", _row(resolve)),
                (
                    "all rounds req/s",
                    "public "
                    + " ".join(f"{r.requests_per_s:.0f}" for r in edge.public)
                    + " | resolve "
                    + " ".join(f"{r.requests_per_s:.0f}" for r in edge.resolve),
                ),
                ("ratio resolve/public", f"{ratio:.2f}"),
            ]
        )
        targets.append((f"Resolve/trivial >= {TARGET_RATIO}", f"{ratio:.2f}  {verdict(ratio >= TARGET_RATIO)}"))
    if fanout is not None:
        every = [ms for r in fanout.rounds for ms in r.latencies_ms]
        received = sum(len(r.latencies_ms) for r in fanout.rounds)
        expected = fanout.watchers * len(fanout.rounds)
        p99 = percentile(every, 99)
        print()
        print(
            f"-- Watch fan-out (native gRPC straight to the registry server, {fanout.watchers} streams on "
            f"{fanout.channels} channels/connections, watchers in a separate process; {len(fanout.rounds)} updates)"
        )
        rows = [
            ("streams synced", f"{fanout.synced}/{fanout.watchers} in {fanout.setup_s:.1f} s"),
            ("server CPU idle with the streams open", f"{100 * fanout.server_cpu_idle_s:.0f}% of one core"),
        ]
        for index, r in enumerate(fanout.rounds):
            rows.append(
                (
                    f"update {index + 1}",
                    f"{len(r.latencies_ms)}/{fanout.watchers} received  p50 {percentile(r.latencies_ms, 50):6.1f} ms  "
                    f"p99 {percentile(r.latencies_ms, 99):6.1f} ms  "
                    f"max {max(r.latencies_ms, default=float('nan')):6.1f} ms  (UpdateService call "
                    f"{r.call_ms:.1f} ms, server CPU {1000 * r.server_cpu_s:.0f} ms)",
                )
            )
        rows.append(
            (
                "all updates",
                f"{received}/{expected} received  p50 {percentile(every, 50):.1f} ms  p99 {p99:.1f} ms  "
                f"max {max(every, default=float('nan')):.1f} ms",
            )
        )
        rows.append(("watcher process CPU (whole run)", f"{fanout.client_cpu_s:.1f} s"))
        for error, count in sorted(fanout.errors.items()):
            rows.append(("stream error", f"{count} x {error}"))
        print_table(rows)
        targets.append(
            (
                f"Watch fan-out p99 <= {TARGET_P99_MS:g} ms ({fanout.watchers} watchers)",
                f"{p99:.1f} ms, {received}/{expected} received  "
                f"{verdict(p99 <= TARGET_P99_MS and received == expected)}",
            )
        )
    print()
    print(f"-- Targets ({load_note()}; now {os.getloadavg()[0]:.2f} (1 min))")
    print_table(targets)


async def run(args: argparse.Namespace, workdir: Path) -> None:
    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    database_url = f"sqlite+aiosqlite:///{workdir / 'data' / 'core.db'}"
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    probe = SwitchProbe()
    async with registry_world(database_url, workdir / "data", env=REGISTRY_ENV, probe=probe) as world:
        settle_after_startup()  # as a service process does once it is up
        quiet_driver_notes()
        logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
        token = await populate(world, probe)
        print(
            f"bench_registry: registry on {world.mesh.runtime.addresses['registry']}, {SERVICE_NAME} resolves",
            file=sys.stderr,
            flush=True,
        )
        edge = await measure_edge(args, world, token, workdir) if "edge" in args.parts else None
        fanout = await measure_fanout(args, world, token) if "watch" in args.parts else None
    report(args, edge, fanout)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_registry", description=__doc__.split("\n")[0])
    add_wrk_arguments(parser, seconds=8.0, rounds=2, per="endpoint")
    parser.add_argument("--watchers", type=int, default=1000, help="concurrent Watch streams (default 1000)")
    parser.add_argument("--per-channel", type=int, default=100, help="Watch streams per gRPC channel (default 100)")
    parser.add_argument("--updates", type=int, default=5, help="UpdateService calls measured (default 5)")
    add_parts_argument(parser, ("edge", "watch"), "what to measure")
    args = parser.parse_args(argv)
    check_wrk_arguments(parser, args)
    if args.watchers < 1 or args.per_channel < 1 or args.updates < 1:
        parser.error("--watchers, --per-channel and --updates must be positive")
    check_parts_argument(parser, args, ("edge", "watch"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return bench_main(
        "bench-registry",
        lambda workdir: run(args, workdir),
        needs_wrk="edge" in args.parts,
        workdir_prefix="tm-bench-registry-",
    )


if __name__ == "__main__":
    sys.exit(main())
