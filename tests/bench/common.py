"""Pieces the benchmarks share: settings, the tenants service in-process, number formatting.

Benchmarks print numbers; they are not tests (no ``test_`` functions, not collected
by pytest) and never assert timings.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from tenantmesh.tenants.v1 import tenant_service_pb2_grpc

from services.runtime.app import Runtime, StartedApp, start_app, stop_apps
from services.runtime.client import create_mesh_channel
from services.runtime.config import Settings, load_settings
from services.runtime.db import MigrationSet
from services.runtime.heap import settle_after_startup
from services.runtime.logging import configure_logging
from services.runtime.mesh_tls import EDGE, channel_credentials
from services.tenants.app import TENANT_MIGRATIONS
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
