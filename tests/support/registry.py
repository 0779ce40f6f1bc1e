"""The registry on the real platform, in-process: tenants + auth + registry with
token authentication, real servers on port 0, real interceptors, real database.

Callers are real: the platform administrator logs in, tenants are created
through the tenants service and their administrators through the auth
service. The registry's clock can be moved forward (leases), and its health
probe replaced (health checks without real instances).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, struct_pb2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from tenantmesh.auth.v1 import admin_service_pb2, user_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as pb_grpc
from tenantmesh.registry.v1 import service_pb2

from services.registry.app import RegistryApp
from services.registry.health import Probe
from services.runtime.app import start_app
from services.runtime.db import TenantDatabase, database_now, tenant_database_name
from services.runtime.outbox import OutboxRow
from tests.support.platform import Platform, bearer, platform
from tests.support.stubs import BoundStub

TENANT_ADMIN_PASSWORD = "tenant-admin-password-1"

# Fast rounds, so health and lease tests take a fraction of a second. The
# platform's own services stay out of the catalogue (tests of self-registration
# turn it on), so each test sees only what it registered.
FAST_REGISTRY = {
    "TENANTMESH_DISCOVERY": "off",
    "TENANTMESH_REGISTRY_TICK_SECONDS": "0.05",
    "TENANTMESH_REGISTRY_HEALTH_INTERVAL_SECONDS": "0.05",
    "TENANTMESH_REGISTRY_WATCH_KEEPALIVE_SECONDS": "0.5",
}


class FakeClock:
    """The registry's lease clock: the database's time plus an offset tests move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    async def __call__(self, conn: AsyncConnection | AsyncSession) -> datetime:
        return await database_now(conn) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Stubs:
    catalog: Any
    instances: Any
    discovery: Any
    enabled: Any


@dataclass
class RegistryWorld:
    mesh: Platform
    app: RegistryApp
    clock: FakeClock
    backend: str
    slugs: list[str] = field(default_factory=list)
    _admin_token: str = ""

    async def admin_token(self) -> str:
        if not self._admin_token:
            self._admin_token = await self.mesh.admin_token()
        return self._admin_token

    def stubs(self, token: str, tenant_id: str | None = None) -> Stubs:
        metadata = bearer(token) + ((("x-tenant-id", tenant_id),) if tenant_id else ())
        channel = self.mesh.channel("registry")
        return Stubs(
            catalog=BoundStub(pb_grpc.CatalogServiceStub(channel), metadata),
            instances=BoundStub(pb_grpc.InstanceServiceStub(channel), metadata),
            discovery=BoundStub(pb_grpc.DiscoveryServiceStub(channel), metadata),
            enabled=BoundStub(pb_grpc.EnabledServiceServiceStub(channel), metadata),
        )

    async def admin(self, tenant_id: str | None = None) -> Stubs:
        """The platform administrator (acting on ``tenant_id`` for enablement)."""
        return self.stubs(await self.admin_token(), tenant_id)

    async def new_tenant(self, stem: str = "reg") -> str:
        """A fresh tenant; returns its id."""
        slug = f"{stem}-{uuid.uuid4().hex[:10]}"
        self.slugs.append(slug)
        return (await self.mesh.create_tenant(slug)).tenant_id

    async def tenant_admin_token(self, tenant_id: str) -> str:
        """A tenant-admin user of ``tenant_id``, logged in to it."""
        return await self._user_token(tenant_id, "tenant-admin")

    async def member_token(self, tenant_id: str) -> str:
        """A user of ``tenant_id`` with the member role only, logged in to it."""
        return await self._user_token(tenant_id, "member")

    async def _user_token(self, tenant_id: str, role: str) -> str:
        email = f"{role}-{uuid.uuid4().hex[:10]}@example.test"
        users = self.mesh.admin_stub("UserService")
        await users.CreateUser(
            admin_service_pb2.CreateUserRequest(
                user=user_pb2.User(email=email), password=TENANT_ADMIN_PASSWORD, roles=[role]
            ),
            metadata=(*bearer(await self.admin_token()), ("x-tenant-id", tenant_id)),
        )
        return (await self.mesh.login(tenant_id, email, TENANT_ADMIN_PASSWORD)).access_token

    async def register(self, service: service_pb2.Service, **request: Any) -> service_pb2.Service:
        response = await (await self.admin()).catalog.RegisterService(
            pb.RegisterServiceRequest(service=service, **request)
        )
        registered: service_pb2.Service = response.service
        return registered

    async def events_relayed(self) -> None:
        """Waits until every committed event has been published (the outbox is empty), so a
        watcher subscribing now sees no earlier change again."""

        async def empty() -> bool:
            async with self.mesh.runtime.db.core_session() as session:
                return (await session.execute(select(func.count()).select_from(OutboxRow))).scalar_one() == 0

        await eventually(empty)

    async def drop_leftovers(self) -> None:
        if self.backend != "mysql":
            return
        for slug in self.slugs:
            await self.mesh.runtime.db.drop_tenant_database(
                TenantDatabase("default", tenant_database_name(slug, self.mesh.runtime.db.tenant_db_prefix))
            )


def struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(value))
    return message


def unique_name(stem: str = "svc") -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def http_service(name: str, **fields: Any) -> service_pb2.Service:
    """An EXTERNAL_HTTP service with one version, one permission and one menu entry."""
    values: dict[str, Any] = {
        "name": name,
        "kind": service_pb2.SERVICE_KIND_EXTERNAL_HTTP,
        "display_name": name.title(),
        "permissions": [service_pb2.PermissionDefinition(name=f"{name}.things.read")],
        "menu_entries": [
            service_pb2.MenuEntry(
                id="things", label="Things", route="/things", required_permission=f"{name}.things.read"
            )
        ],
        "versions": [service_pb2.ServiceVersion(version="1.0.0")],
    }
    values.update(fields)
    return service_pb2.Service(**values)


def descriptor_set(
    *messages: descriptor_pb2.DescriptorProto, rpcs: Mapping[str, tuple[str, str]] | None = None
) -> bytes:
    """A one-file descriptor set of package ``acme.v1`` with ``messages`` and a service ``Api``."""
    file = descriptor_pb2.FileDescriptorProto(name="acme/v1/api.proto", package="acme.v1", syntax="proto3")
    file.message_type.extend(messages)
    if rpcs:
        service = file.service.add(name="Api")
        for name, (request, response) in (rpcs or {}).items():
            service.method.add(name=name, input_type=f".acme.v1.{request}", output_type=f".acme.v1.{response}")
    return descriptor_pb2.FileDescriptorSet(file=[file]).SerializeToString()


def message(name: str, **fields: tuple[int, int]) -> descriptor_pb2.DescriptorProto:
    """A message whose fields are ``name=(number, FieldDescriptorProto.TYPE_*)``."""
    proto = descriptor_pb2.DescriptorProto(name=name)
    for field_name, (number, kind) in fields.items():
        proto.field.add(
            name=field_name, number=number, type=kind, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
        )
    return proto


@contextlib.asynccontextmanager
async def registry_world(
    database_url: str,
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    probe: Probe | None = None,
    mesh_tls: bool = False,
) -> AsyncIterator[RegistryWorld]:
    backend = "sqlite" if database_url.startswith("sqlite") else "mysql"
    async with platform(database_url, data_dir, {**FAST_REGISTRY, **(env or {})}, mesh_tls=mesh_tls) as mesh:
        clock = FakeClock()
        app = RegistryApp(mesh.runtime, clock=clock, probe=probe)
        mesh.started.append(await start_app(app, mesh.runtime, "127.0.0.1:0"))
        world = RegistryWorld(mesh=mesh, app=app, clock=clock, backend=backend)
        try:
            yield world
        finally:
            await world.drop_leftovers()


class SwitchProbe:
    """A health probe answering from a table: address -> healthy? (unknown addresses fail).

    ``script[address]`` lists the next answers for an address (True: healthy);
    once it runs out, the table answers.
    """

    def __init__(self) -> None:
        self.healthy: dict[str, bool] = {}
        self.script: dict[str, list[bool]] = {}
        self.calls: list[str] = []

    async def __call__(self, kind: str, address: str, check: Any) -> str | None:
        self.calls.append(address)
        scripted = self.script.get(address)
        healthy = scripted.pop(0) if scripted else self.healthy.get(address, False)
        return None if healthy else "switched off"


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Waits until ``condition()`` holds; fails the test after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)
