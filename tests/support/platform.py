"""The platform as it runs in production, in-process: tenants + auth (and any other service of
the manifest a test asks for) with token authentication, real servers on port 0, real
interceptors, real database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from tenantmesh.auth.v1 import admin_service_pb2_grpc, auth_service_pb2, auth_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from services.auth.app import AuthApp
from services.mesh.apps import start_service
from services.runtime.app import Runtime, StartedApp, stop_apps
from services.runtime.config import load_settings, platform_manifest
from services.runtime.manifest import Manifest
from services.tenants.app import TenantsApp
from tests.support.mesh import mesh_environment
from tests.support.mesh_tls import MESH_TLS_ENV, issue_test_certificates, mesh_channel
from tests.support.ports import free_port

T = TypeVar("T")

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "correct-horse-battery-staple"


# Every built service of the platform besides tenants and auth (which platform() always starts):
# what the isolation matrices run, so a new service is covered without editing them. Services
# that run only with Redis (the rate limit service, which serves no tenant any data) are left
# out: the matrices run without it; tests/edge/test_global_rate_limit.py covers that service.
EVERY_OTHER_SERVICE = tuple(
    spec.name for spec in platform_manifest().hosted(redis=False) if spec.name not in ("tenants", "auth")
)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Platform:
    runtime: Runtime
    started: list[StartedApp]
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    @property
    def tenants_app(self) -> TenantsApp:
        return self._app(TenantsApp)

    @property
    def auth_app(self) -> AuthApp:
        return self._app(AuthApp)

    def _app(self, kind: type[T]) -> T:
        return next(item.app for item in self.started if isinstance(item.app, kind))

    def channel(self, service: str) -> grpc.aio.Channel:
        """The test's channel to ``service``: plaintext, or with mesh TLS the tester's identity."""
        if service not in self.channels:
            address = self.runtime.addresses[service]
            tls = self.runtime.settings.mesh_tls
            self.channels[service] = (
                grpc.aio.insecure_channel(address) if tls is None else mesh_channel(tls, address, service)
            )
        return self.channels[service]

    @property
    def tenants(self) -> Any:
        return tenant_service_pb2_grpc.TenantServiceStub(self.channel("tenants"))

    @property
    def auth(self) -> Any:
        return auth_service_pb2_grpc.AuthServiceStub(self.channel("auth"))

    def admin_stub(self, name: str) -> Any:
        """An admin_service.proto stub by service name, e.g. "UserService"."""
        return getattr(admin_service_pb2_grpc, f"{name}Stub")(self.channel("auth"))

    async def login(self, tenant: str, email: str, password: str) -> auth_service_pb2.TokenSet:
        response = await self.auth.Login(auth_service_pb2.LoginRequest(tenant=tenant, email=email, password=password))
        tokens: auth_service_pb2.TokenSet = response.tokens
        return tokens

    async def admin_token(self) -> str:
        return (await self.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)).access_token

    async def create_tenant(self, slug: str) -> tenant_pb2.Tenant:
        response = await self.tenants.CreateTenant(
            tenant_service_pb2.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug)),
            metadata=bearer(await self.admin_token()),
        )
        tenant: tenant_pb2.Tenant = response.tenant
        return tenant


@contextlib.asynccontextmanager
async def platform(
    database_url: str,
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    manifest: Manifest | None = None,
    extra: Sequence[str] = (),
    mesh_tls: bool = False,
) -> AsyncIterator[Platform]:
    """tenants and auth, then the ``extra`` services of ``manifest`` (default: the platform's);
    ``mesh_tls``: every server mutual TLS with development certificates (tests/support/mesh_tls.py)."""
    variables = {
        "TENANTMESH_ADMIN_EMAIL": ADMIN_EMAIL,
        "TENANTMESH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # Rotated keys sign at once in tests; the delayed activation has its own test.
        "TENANTMESH_SIGNING_KEY_ACTIVATION_DELAY_SECONDS": "0",
        # Tests rotate at will; the minimum interval has its own test.
        "TENANTMESH_SIGNING_KEY_MIN_ROTATION_SECONDS": "0",
    }
    if mesh_tls:
        variables.update(MESH_TLS_ENV)
    # Tenants are provisioned in the tenant-scoped services this platform runs, not in every one
    # the manifest knows (a tenant's creation would wait for a service nobody started).
    running = ("tenants", "auth", *extra)
    scoped = (manifest or platform_manifest()).tenant_scoped
    variables["TENANTMESH_LIFECYCLE_SERVICES"] = ",".join(name for name in scoped if name in running)
    variables.update(env or {})
    settings = load_settings(mesh_environment(database_url, data_dir, **variables), manifest=manifest)
    if settings.mesh_tls is not None:
        issue_test_certificates(settings.mesh_tls, {*(spec.name for spec in settings.manifest.built), *extra})
    runtime = await Runtime.open(settings)
    started: list[StartedApp] = []
    handle: Platform | None = None
    try:
        # One after the other: each is built once the ones before it are bound (auth resolves the
        # tenants address when it is built). Ports known before the start, as in production: calls
        # made while a service starts (its service key exchanged at auth) wait for its bind.
        for name in ("tenants", "auth", *extra):
            address = f"127.0.0.1:{free_port()}"
            started.append(await start_service(settings.manifest.get(name), runtime, address))
        handle = Platform(runtime=runtime, started=started)
        yield handle
    finally:
        if handle is not None:
            for channel in handle.channels.values():
                await channel.close()
        await stop_apps(started, 0.5)
        await runtime.close()
