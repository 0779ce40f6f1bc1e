"""A mesh with the global rate limit for edge tests and benchmarks: the tenants service and the rate
limit service in this process (open access, mesh TLS on), counting in a real Redis."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from services.mesh.apps import RATE_LIMIT_PACKAGE
from services.mesh.edge import EdgeMeshTls, GlobalRateLimit, Upstream, edge_mesh_tls
from services.mesh.runner import upstreams_for
from services.ratelimit.app import RateLimitApp
from services.ratelimit.settings import RateLimitSettings, load_rate_limit_settings
from services.runtime.app import Runtime, StartedApp, start_app, stop_apps
from services.runtime.config import load_settings
from tests.support.mesh import DomainTenantsApp, mesh_environment
from tests.support.mesh_tls import MESH_TLS_ENV, issue_test_certificates, mesh_channel
from tests.support.open_access import OpenAccess

# Plans the tests choose from: "small" trips after a handful of requests, "large" never does.
TEST_PLANS = {"default": {"tenant": "100000/m"}, "small": {"tenant": "6/m"}, "large": {"tenant": "100000/m"}}


# A loaded test machine must not turn a slow answer into a failure mode (a request let through):
# the tests of failure modes make Redis or the service unreachable, which fails at once.
PATIENT_LIMITER = {"TENANTMESH_RATE_LIMIT_REDIS_TIMEOUT_SECONDS": "2"}
PATIENT_EDGE_TIMEOUT_MS = 5000


@dataclass
class LimitedMesh:
    runtime: Runtime
    started: list[StartedApp]
    edge_tls: EdgeMeshTls | None
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def upstreams(self) -> list[Upstream]:
        return upstreams_for(self.started, self.runtime.settings)

    def limiter(self, index: int = 0) -> StartedApp:
        return [s for s in self.started if isinstance(s.app, RateLimitApp)][index]

    def global_limit(self, index: int = 0, **overrides: Any) -> GlobalRateLimit:
        """The edge's setting that points at the ``index``-th rate limit service."""
        item = self.limiter(index)
        upstream = Upstream(item.app.name, "127.0.0.1", item.server.port, (RATE_LIMIT_PACKAGE,))
        return GlobalRateLimit(upstream, **overrides)

    @property
    def tenants(self) -> Any:
        address = self.runtime.addresses["tenants"]
        tls = self.runtime.settings.mesh_tls
        channel = grpc.aio.insecure_channel(address) if tls is None else mesh_channel(tls, address, "tenants")
        self.channels.append(channel)
        return tenant_service_pb2_grpc.TenantServiceStub(channel)

    async def create_tenant(self, slug: str, plan: str, settings: Mapping[str, str] | None = None) -> str:
        response = await self.tenants.CreateTenant(
            tenant_service_pb2.CreateTenantRequest(
                tenant=tenant_pb2.Tenant(slug=slug, plan=plan, settings=dict(settings or {}))
            )
        )
        return str(response.tenant.tenant_id)

    async def set_plan(self, tenant_id: str, plan: str) -> None:
        await self.tenants.UpdateTenant(
            tenant_service_pb2.UpdateTenantRequest(
                tenant=tenant_pb2.Tenant(tenant_id=tenant_id, plan=plan), update_mask={"paths": ["plan"]}
            )
        )


@contextlib.asynccontextmanager
async def limited_mesh(
    data_dir: Path,
    redis_url: str,
    *,
    limiters: Sequence[Mapping[str, str]] = ({},),
    mesh_tls: bool = True,
    plans: Mapping[str, Mapping[str, str]] | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[LimitedMesh]:
    """The tenants service and rate limit services (by default one; ``limiters``: each one's own
    TENANTMESH_RATE_LIMIT_* variables on top of the mesh's)."""
    variables = {
        "REDIS_URL": redis_url,
        **PATIENT_LIMITER,
        "TENANTMESH_RATE_LIMIT_PLANS": json.dumps(plans or TEST_PLANS),
        **(MESH_TLS_ENV if mesh_tls else {}),
        **(env or {}),
    }
    settings = load_settings(mesh_environment(f"sqlite+aiosqlite:///{data_dir / 'core.db'}", data_dir, **variables))
    if settings.mesh_tls is not None:
        issue_test_certificates(settings.mesh_tls, ["tenants", "ratelimit"])
    runtime = await Runtime.open(settings, authentication=OpenAccess())
    started: list[StartedApp] = []
    handle: LimitedMesh | None = None
    try:
        started.append(await start_app(DomainTenantsApp(runtime), runtime, "127.0.0.1:0"))
        for overrides in limiters:
            limit_settings: RateLimitSettings = load_rate_limit_settings({**settings.environment, **overrides})
            started.append(await start_app(RateLimitApp(runtime, settings=limit_settings), runtime, "127.0.0.1:0"))
        edge_tls = edge_mesh_tls(settings.mesh_tls, data_dir / "edge-sds") if settings.mesh_tls is not None else None
        handle = LimitedMesh(runtime, started, edge_tls)
        yield handle
    finally:
        if handle is not None:
            for channel in handle.channels:
                await channel.close()
        await stop_apps(started, 0.5)
        await runtime.close()


def edge_overrides(mesh: LimitedMesh, index: int = 0, **limit: Any) -> dict[str, Any]:
    """EdgeSettings fields for an Envoy in front of ``mesh`` asking its ``index``-th limiter."""
    overrides: dict[str, Any] = {
        "global_rate_limit": mesh.global_limit(index, **{"timeout_ms": PATIENT_EDGE_TIMEOUT_MS, **limit})
    }
    if mesh.edge_tls is not None:
        overrides["mesh_tls"] = mesh.edge_tls
    return overrides
