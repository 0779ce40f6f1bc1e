"""The rate limit service in a process of its own, as a deployment runs it, for the benchmark.

    python -m tests.bench.rate_limit_server DATA_DIR [--no-op | --bare]

prints "port <port>", then serves until SIGTERM/SIGINT.

REDIS_URL, TENANTMESH_TENANTS_ADDR and TENANTMESH_RATE_LIMIT_* come from the environment. Open
access (tests/support/open_access.py): the benchmark runs no auth service, so the lookups of
tenants' plans present no token.

``--no-op`` (benchmarks only) answers every request OK without reading its descriptors, looking up
a plan or asking Redis, through the same server, interceptors and handler: what the benchmark then
measures is the price of the gRPC call itself, the ceiling any implementation in this process has.

``--bare`` (benchmarks only) is not the service at all: a grpc.aio server with nothing but a handler
that answers the same bytes to every call (no interceptors, no runtime, the request not even
parsed). The ceiling of any rate limit service written on Python grpc.aio.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from envoyapi.service.ratelimit.v3 import rls_pb2
from grpc_health.v1 import health, health_pb2_grpc

from services.ratelimit.app import RateLimitApp
from services.ratelimit.servicer import RateLimitServicer
from services.runtime.app import Runtime, shutdown_event, start_app, stop_apps
from services.runtime.heap import settle_after_startup
from services.runtime.loop import run as run_on_service_loop
from tests.bench.common import bench_settings
from tests.support.open_access import OpenAccess

NO_OP = "--no-op"
BARE = "--bare"
SERVICE = rls_pb2.DESCRIPTOR.services_by_name["RateLimitService"].full_name


_OK = rls_pb2.RateLimitResponse(overall_code=rls_pb2.RateLimitResponse.OK)


class AlwaysOk(RateLimitServicer):
    async def ShouldRateLimit(self, request: rls_pb2.RateLimitRequest, context: Any) -> rls_pb2.RateLimitResponse:
        return _OK


class NoOpRateLimitApp(RateLimitApp):
    def servicers(self) -> Sequence[object]:
        return [AlwaysOk(self.settings, self.limits, self.counter)]


async def serve(data_dir: Path, no_op: bool) -> None:
    # bench_settings drops REDIS_URL from the environment it starts from: given back here.
    settings = bench_settings(
        f"sqlite+aiosqlite:///{data_dir / 'core.db'}", data_dir, REDIS_URL=os.environ["REDIS_URL"]
    )
    runtime = await Runtime.open(settings, authentication=OpenAccess(), process_name="ratelimit")
    stop = shutdown_event()
    app = NoOpRateLimitApp(runtime) if no_op else RateLimitApp(runtime)
    started = [await start_app(app, runtime, "127.0.0.1:0")]
    try:
        settle_after_startup()
        print(f"port {started[0].server.port}", flush=True)
        await stop.wait()
    finally:
        await stop_apps(started, 1.0)
        await runtime.close()


async def serve_bare() -> None:
    answer = _OK.SerializeToString()

    async def should_rate_limit(request: bytes, context: Any) -> bytes:
        return answer

    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"ShouldRateLimit": grpc.unary_unary_rpc_method_handler(should_rate_limit)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    # Envoy health-checks its clusters: a server without health would never be asked.
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    stop = shutdown_event()
    await server.start()
    try:
        print(f"port {port}", flush=True)
        await stop.wait()
    finally:
        await server.stop(1.0)


def main() -> int:
    if BARE in sys.argv[2:]:
        run_on_service_loop(serve_bare())
    else:
        run_on_service_loop(serve(Path(sys.argv[1]), NO_OP in sys.argv[2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
