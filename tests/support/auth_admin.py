"""An in-process server of the auth administration services, for tests.

Real ``create_server`` (real interceptors, port 0), real migrations on the
backend of ``db_backend_url``; only the authenticator and the tenant
directory are stand-ins. A caller is named in ``authorization: Bearer <name>``
and maps to a fixed Principal, so one server serves every role a test needs.
A RevocationList subscribed to the event bus shows what was revoked.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import func, select
from tenantmesh.auth.v1 import admin_service_pb2 as pb
from tenantmesh.auth.v1 import admin_service_pb2_grpc as pb_grpc
from tenantmesh.auth.v1 import auth_service_pb2, user_pb2

from services.auth.admin_servicers import admin_bindings
from services.auth.deps import AuthDeps
from services.auth.invitations import Invitations
from services.auth.models import AuditEventRow, MembershipRow, RoleRow, ServiceAccountRow, UserRow
from services.auth.permissions import MEMBER, PLATFORM_ADMIN, TENANT_ADMIN, built_in_roles, grantable
from services.auth.profiles import UserProfiles
from services.auth.revocation import Revoker
from services.auth.roles import RoleCatalog
from services.auth.verification import EmailVerification
from services.runtime.access import load_policies
from services.runtime.auth.claims import AccessClaims
from services.runtime.auth.revocation import REVOKED_EVENT, Revocation, RevocationList
from services.runtime.auth.revocation_store import REVOCATION_MIGRATIONS
from services.runtime.context import PLATFORM_TENANT_ID, Principal, TenantContext, TenantState
from services.runtime.db import DatabaseRouter, MigrationSet, TenantDatabase, tenant_database_name, upgrade_core
from services.runtime.delivery import Delivery, DeliveryRow, load_delivery_settings
from services.runtime.errors import CommonReason, Unauthenticated
from services.runtime.events import Event, InProcessEventBus
from services.runtime.ids import uuid7
from services.runtime.interceptors.chain import IncomingCall
from services.runtime.outbox import OUTBOX_MIGRATIONS
from services.runtime.sealing import Sealer
from services.runtime.server import RunningServer, create_server
from services.runtime.unit_of_work import UnitOfWork
from tests.support.stubs import BoundStub

AUTH_MIGRATIONS = MigrationSet("auth", "core", Path("services/auth/migrations/core"))
_SERVICES = pb.DESCRIPTOR.services_by_name
ADMIN_SERVICES = [
    _SERVICES[name].full_name
    for name in ("UserService", "MembershipService", "RoleService", "ServiceAccountService", "AuditService")
]
# Built-in roles are derived from these services' declared permissions: every auth RPC.
POLICY_SERVICES = [
    service.full_name for module in (pb, auth_service_pb2) for service in module.DESCRIPTOR.services_by_name.values()
]
PASSWORD = "correct horse battery staple"
# The longest access token lifetime the mesh's revoker is told of.
TOKEN_TTL_SECONDS = 900
TABLES: tuple[Any, ...] = (UserRow, MembershipRow, RoleRow, ServiceAccountRow, AuditEventRow, DeliveryRow)


class NamedPrincipals:
    """``authorization: Bearer <name>`` -> the principal registered under that name."""

    def __init__(self) -> None:
        self.principals: dict[str, Principal] = {}

    async def authenticate(self, call: IncomingCall) -> Principal | None:
        header = call.metadata.get("authorization", "")
        if not header:
            return None
        principal = self.principals.get(header.removeprefix("Bearer "))
        if principal is None:
            raise Unauthenticated("unknown test principal", reason=CommonReason.TOKEN_INVALID)
        return principal


class FixedTenants:
    def __init__(self, tenants: Iterable[TenantContext]) -> None:
        self.tenants = {t.tenant_id: t for t in tenants}

    async def lookup(self, tenant_id: str) -> TenantContext | None:
        return self.tenants.get(tenant_id)


def tenant(tenant_id: str, slug: str, state: TenantState = TenantState.ACTIVE) -> TenantContext:
    return TenantContext(tenant_id, slug, state, TenantDatabase("default", tenant_database_name(slug)))


@dataclass
class Caller:
    users: Any
    memberships: Any
    roles: Any
    service_accounts: Any
    audit: Any
    invitations: Any

    async def create_user(self, email: str | None = None, roles: Iterable[str] = (), **user: Any) -> Any:
        request = pb.CreateUserRequest(
            user=user_pb2.User(email=email or unique_email(), **user), password=PASSWORD, roles=list(roles)
        )
        return await self.users.CreateUser(request)

    async def create_role(self, name: str, *permissions: str, description: str = "") -> user_pb2.Role:
        response = await self.roles.CreateRole(
            pb.CreateRoleRequest(role=user_pb2.Role(name=name, description=description, permissions=permissions))
        )
        role: user_pb2.Role = response.role
        return role


def unique_email(stem: str = "user") -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}@example.test"


@dataclass
class AdminMesh:
    router: DatabaseRouter
    deps: AuthDeps
    server: RunningServer
    channel: grpc.aio.Channel
    principals: NamedPrincipals
    directory: FixedTenants
    revocations: RevocationList
    tenant_a: str
    tenant_b: str
    # Every revocation published, in order: (kind, key, tenant_id) is what tests compare.
    published: list[Revocation] = field(default_factory=list)

    def revoked(self) -> list[tuple[str, str, str]]:
        return [(r.kind, r.key, r.tenant_id) for r in self.published]

    async def _on_revoked(self, event: Event) -> None:
        self.published.append(Revocation.from_dict(event.payload_dict()))

    def principal(self, name: str, tenant_id: str, roles: Iterable[str] = (), permissions: Iterable[str] = ()) -> str:
        """Registers a caller: the permissions of ``roles`` plus ``permissions``; returns its name."""
        perms = set(permissions)
        for role in roles:
            perms |= self.deps.roles.built_in[role].permissions
        self.principals.principals[name] = Principal(
            subject=f"user:{uuid7()}", tenant_id=tenant_id, permissions=frozenset(perms), roles=tuple(roles)
        )
        return name

    def subject(self, name: str) -> str:
        return self.principals.principals[name].subject

    def caller(self, name: str, tenant_id: str | None = None) -> Caller:
        """Stubs for ``name`` acting in ``tenant_id`` (default: the tenant of its token)."""
        tenant_id = tenant_id or self.principals.principals[name].tenant_id or ""
        metadata = (("authorization", f"Bearer {name}"), ("x-tenant-id", tenant_id))
        return Caller(
            users=BoundStub(pb_grpc.UserServiceStub(self.channel), metadata),
            memberships=BoundStub(pb_grpc.MembershipServiceStub(self.channel), metadata),
            roles=BoundStub(pb_grpc.RoleServiceStub(self.channel), metadata),
            service_accounts=BoundStub(pb_grpc.ServiceAccountServiceStub(self.channel), metadata),
            audit=BoundStub(pb_grpc.AuditServiceStub(self.channel), metadata),
            invitations=BoundStub(pb_grpc.InvitationServiceStub(self.channel), metadata),
        )

    @property
    def admin_a(self) -> Caller:
        return self.caller("admin-a")

    @property
    def admin_b(self) -> Caller:
        return self.caller("admin-b")

    @property
    def member_a(self) -> Caller:
        return self.caller("member-a")

    def platform(self, tenant_id: str) -> Caller:
        """The platform administrator acting on ``tenant_id`` (platform override)."""
        return self.caller("platform", tenant_id)

    def token_revoked(self, subject: str, tenant_id: str, issued_at: float) -> bool:
        """Would a token of ``subject`` in ``tenant_id`` issued at ``issued_at`` be refused now?"""
        claims = AccessClaims(
            subject=subject,
            tenant_id=tenant_id,
            session_id=str(uuid.uuid4()),
            roles=(),
            permissions=frozenset(),
            issued_at=int(issued_at),
            expires_at=int(issued_at) + 900,
            token_id=str(uuid.uuid4()),
        )
        return self.revocations.is_revoked(claims)

    async def rows(self, model: Any, *criteria: Any) -> list[Any]:
        async with self.router.core_session() as session:
            return list((await session.execute(select(model).where(*criteria))).scalars())

    async def counts(self) -> dict[str, int]:
        """Rows per auth table: equal before and after a failed call means nothing was written."""
        found: dict[str, int] = {}
        async with self.router.core_session() as session:
            for model in TABLES:
                found[model.__tablename__] = int(
                    (await session.execute(select(func.count()).select_from(model))).scalar_one()
                )
        return found


def issued_before_now() -> float:
    """An access token issue time safely before any revocation made from now on."""
    return time.time() - 1


@contextlib.asynccontextmanager
async def admin_mesh(database_url: str) -> AsyncIterator[AdminMesh]:
    router = DatabaseRouter(database_url)
    channel: grpc.aio.Channel | None = None
    server: RunningServer | None = None
    try:
        await router.start()
        await upgrade_core(router, AUTH_MIGRATIONS)
        await upgrade_core(router, OUTBOX_MIGRATIONS)
        await upgrade_core(router, REVOCATION_MIGRATIONS)  # where revocations are kept without Redis
        # Mail is queued (in the change's transaction) and not sent: no channel is served here.
        delivery = Delivery(router, Sealer(secrets.token_bytes(32)), load_delivery_settings({}))
        await delivery.migrate()
        events = InProcessEventBus()
        revocations = RevocationList()
        revocations.subscribe(events)
        policies = load_policies(POLICY_SERVICES).values()
        catalog = RoleCatalog(built_in_roles(policies), grantable(policies))
        tenant_a, tenant_b = uuid7(), uuid7()
        directory = FixedTenants(
            [
                tenant(PLATFORM_TENANT_ID, "platform"),
                tenant(tenant_a, "tenant-a"),
                tenant(tenant_b, "tenant-b"),
            ]
        )
        profiles = UserProfiles(router)
        deps = AuthDeps(
            db=router,
            events=events,
            revoker=Revoker(UnitOfWork(router, "auth", deliver_to=events), None, TOKEN_TTL_SECONDS),
            roles=catalog,
            profiles=profiles,
            verification=EmailVerification(router, directory, profiles, 3600),
        )
        principals = NamedPrincipals()
        server = await create_server(
            admin_bindings(deps, Invitations(deps, directory, 3600, resend_seconds=0)),
            address="127.0.0.1:0",
            authenticator=principals,
            tenant_directory=directory,
        )
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        mesh = AdminMesh(
            router=router,
            deps=deps,
            server=server,
            channel=channel,
            principals=principals,
            directory=directory,
            revocations=revocations,
            tenant_a=tenant_a,
            tenant_b=tenant_b,
        )
        events.subscribe(REVOKED_EVENT, mesh._on_revoked)
        mesh.principal("admin-a", tenant_a, roles=[TENANT_ADMIN])
        mesh.principal("admin-b", tenant_b, roles=[TENANT_ADMIN])
        mesh.principal("member-a", tenant_a, roles=[MEMBER])
        mesh.principal("platform", PLATFORM_TENANT_ID, roles=[PLATFORM_ADMIN])
        yield mesh
    finally:
        if channel is not None:
            await channel.close()
        if server is not None:
            await server.stop(0.2)
        await router.dispose()
