"""In-process services for tests: real servers, real interceptors, port 0."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy.engine import make_url
from tenantmesh.tenants.v1 import tenant_service_pb2_grpc

from services.runtime.app import Runtime, StartedApp, start_app, stop_apps
from services.runtime.config import Settings, load_settings
from services.runtime.db.placement import check_tenant_db_prefix
from services.tenants.app import TenantsApp
from tests.support.open_access import OpenAccess


def run_tenant_db_prefix(mysql_url: str | None) -> str:
    """The start of every tenant database name of one test run: the name TEST_MYSQL_URL gives
    (the run's own prefix on a shared server) and a part of this run's own.

    So runs sharing one MariaDB server (CI next to a developer's run) never touch each other's
    databases, the platform tenant's included, nor any database outside the configured prefix;
    the session fixture in tests/conftest.py drops them all at the end. Raises ValueError when the
    configured name leaves no room (tenant database prefixes are at most 24 characters).
    """
    base = (make_url(mysql_url).database if mysql_url else None) or "tm"
    return check_tenant_db_prefix(f"{base}_{uuid.uuid4().hex[:6]}_")


RUN_TENANT_DB_PREFIX = run_tenant_db_prefix(os.environ.get("TEST_MYSQL_URL"))


def mesh_environment(database_url: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    env: dict[str, str] = {
        "DATABASE_URL": database_url,
        "TENANTMESH_TENANT_DB_PREFIX": RUN_TENANT_DB_PREFIX,
        "TENANTMESH_DATA_DIR": str(data_dir),
        "TENANTMESH_LOG_FORMAT": "text",
        # Tests drive the reconciler by hand; keep the background loop out of the way.
        "TENANTMESH_RECONCILE_INTERVAL_SECONDS": "3600",
        # Plaintext in-process servers, reached with insecure channels; tests of identities and
        # the isolation matrix over mutual TLS turn it on (tests/support/mesh_tls.py).
        "TENANTMESH_MESH_TLS": "off",
        # Tenants are provisioned in the tenants service alone unless a test runs more tenant-scoped
        # services (tests/support/platform.py names the ones it starts).
        "TENANTMESH_LIFECYCLE_SERVICES": "tenants",
    }
    env.update(overrides)
    return env


def mesh_settings(database_url: str, data_dir: Path, **overrides: str) -> Settings:
    return load_settings(mesh_environment(database_url, data_dir, **overrides))


class DomainTenantsApp(TenantsApp):
    """The tenants service of an open mesh: without tokens there is no use for the platform tenant,
    and tests of the domain count the tenants they made."""

    async def ensure_platform_tenant(self) -> None:
        return None


@dataclass
class TenantsHarness:
    runtime: Runtime
    app: TenantsApp
    started: StartedApp
    channel: grpc.aio.Channel

    @property
    def port(self) -> int:
        return self.started.server.port

    @property
    def tenants(self) -> Any:
        return tenant_service_pb2_grpc.TenantServiceStub(self.channel)


@contextlib.asynccontextmanager
async def tenants_service(
    database_url: str, data_dir: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[TenantsHarness]:
    # Domain tests run with the open-access authenticator; token authentication
    # has its own tests (tests/grpc/test_auth_*, the isolation matrix).
    runtime = await Runtime.open(mesh_settings(database_url, data_dir, **dict(env or {})), authentication=OpenAccess())
    app = DomainTenantsApp(runtime)
    started: list[StartedApp] = []
    channel = None
    try:
        started.append(await start_app(app, runtime, "127.0.0.1:0"))
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{started[0].server.port}")
        yield TenantsHarness(runtime=runtime, app=app, started=started[0], channel=channel)
    finally:
        if channel is not None:
            await channel.close()
        await stop_apps(started, 0.5)
        await runtime.close()
