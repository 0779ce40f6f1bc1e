"""The rate limit service's CPU per call, without Envoy: ShouldRateLimit asked directly.

    python -m tests.bench.profile_rate_limit [--calls 20000] [--concurrency 64] [--no-op]

The service runs in its own process (tests/bench/rate_limit_server.py) on Redis (TEST_REDIS_URL,
else the local server's DB 1), behind a tenants service in this process; this process keeps
``--concurrency`` calls in flight on one channel (as Envoy does on its one HTTP/2 connection) with
the two descriptors the edge sends. Prints the service's CPU per call (user + system, from /proc),
which stays put when other work slows the machine down, unlike its wall-clock rate. ``--no-op``
measures the same server answering OK without looking at the request. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from envoyapi.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.loop import run as run_on_service_loop
from tests.bench.bench_rate_limit import DEFAULT_REDIS_URL, rate_limit_process
from tests.bench.common import bench_settings, load_note, tenants_service
from tests.bench.edge_tools import cpu_seconds


def edge_request(tenant_id: str) -> rls_pb2.RateLimitRequest:
    """What the edge asks about a request of ``tenant_id`` to the tenants service."""
    entry = rls_pb2.RateLimitDescriptor.Entry
    return rls_pb2.RateLimitRequest(
        domain="tenantmesh",
        descriptors=[
            rls_pb2.RateLimitDescriptor(entries=[entry(key="tenant_id", value=tenant_id)]),
            rls_pb2.RateLimitDescriptor(
                entries=[entry(key="tenant_id", value=tenant_id), entry(key="destination_cluster", value="tenants")]
            ),
        ],
    )


async def ask(stub: Any, request: rls_pb2.RateLimitRequest, calls: int) -> None:
    for _ in range(calls):
        response = await stub.ShouldRateLimit(request, timeout=10)
        if response.overall_code != rls_pb2.RateLimitResponse.OK:
            raise RuntimeError(f"refused: {response}")


async def run(args: argparse.Namespace, workdir: Path) -> None:
    data = workdir / "tenants"
    async with (
        tenants_service(bench_settings(f"sqlite+aiosqlite:///{data / 'core.db'}", data)) as service,
        rate_limit_process(workdir, service.port, args.redis_url, mode="no-op" if args.no_op else "") as (port, pid),
    ):
        response = await service.stub.CreateTenant(
            pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=f"rl-profile-{os.getpid()}"))
        )
        request = edge_request(response.tenant.tenant_id)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub: Any = rls_pb2_grpc.RateLimitServiceStub(channel)
            per_task = max(1, args.calls // args.concurrency)
            await asyncio.gather(*(ask(stub, request, 20) for _ in range(args.concurrency)))  # warm up
            started, cpu = time.perf_counter(), cpu_seconds(pid)
            await asyncio.gather(*(ask(stub, request, per_task) for _ in range(args.concurrency)))
            wall, spent = time.perf_counter() - started, cpu_seconds(pid) - cpu
    calls = per_task * args.concurrency
    print(load_note())
    print(
        f"ShouldRateLimit{' (no-op)' if args.no_op else ''}: {calls} calls, {args.concurrency} in flight, "
        f"{calls / wall:.0f} calls/s, rate limit service CPU {1e6 * spent / calls:.0f} us/call"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.profile_rate_limit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-op", action="store_true", help="the service answers OK without looking")
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tm-profile-rl-") as workdir:
        run_on_service_loop(run(args, Path(workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
