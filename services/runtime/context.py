"""Per-call context, set by the interceptors and read by handlers.

Handlers never read raw metadata: the request id, the principal and the tenant
of the current call live in these context variables. grpc.aio runs each RPC in
its own task, so a value set by an interceptor is seen by that call only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum

from services.runtime.db.placement import TenantDatabase
from services.runtime.errors import CommonReason, FailedPrecondition, Unauthenticated


class TenantState(StrEnum):
    """A tenant's lifecycle state: tenantmesh.tenants.v1.TenantState without its prefix, as stored."""

    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DELETING = "DELETING"
    DELETED = "DELETED"
    FAILED = "FAILED"


# States in which a tenant is gone for its callers (NOT_FOUND), whatever is left of it.
GONE_STATES = frozenset({TenantState.DELETING, TenantState.DELETED, TenantState.FAILED})


@dataclass(frozen=True)
class TenantContext:
    """The tenant a call acts for, as the tenant directory last saw it."""

    tenant_id: str
    slug: str
    state: TenantState
    database: TenantDatabase


# The platform's own tenant: platform administrators are its members. Its id is
# fixed so every service knows it without asking anyone.
PLATFORM_TENANT_ID = "00000000-0000-7000-8000-000000000001"
PLATFORM_TENANT_SLUG = "platform"
PLATFORM_ADMIN_ROLE = "platform-admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``permissions`` is what the authorization stage checks.

    ``subject`` is "user:<id>", "service-account:<id>" or "service:<name>";
    ``tenant_id`` is the tenant the token was issued for (None only for the
    open-access placeholder, which acts platform-wide).
    """

    subject: str
    tenant_id: str | None
    permissions: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None
    roles: tuple[str, ...] = ()

    def has_permission(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions

    @property
    def is_platform_admin(self) -> bool:
        return self.tenant_id in (PLATFORM_TENANT_ID, None) and (
            PLATFORM_ADMIN_ROLE in self.roles or "*" in self.permissions
        )


request_id_var: ContextVar[str] = ContextVar("tenantmesh_request_id", default="")
traceparent_var: ContextVar[str] = ContextVar("tenantmesh_traceparent", default="")
authorization_var: ContextVar[str] = ContextVar("tenantmesh_authorization", default="")
tenant_var: ContextVar[TenantContext | None] = ContextVar("tenantmesh_tenant", default=None)
principal_var: ContextVar[Principal | None] = ContextVar("tenantmesh_principal", default=None)
# Where the call came from: the edge's view of the client if the call came
# through Envoy, else the gRPC peer. For audit and brute-force throttling.
client_address_var: ContextVar[str] = ContextVar("tenantmesh_client_address", default="")
# The platform service this code runs for (the one serving the current call, or whose start
# spawned the background task): its mesh certificate is what outgoing calls present.
acting_service_var: ContextVar[str] = ContextVar("tenantmesh_acting_service", default="")
# The mesh identity of the current call's caller, as its verified client certificate names it
# (a service, the edge, tenantctl); None without mesh TLS or without such a certificate.
caller_identity_var: ContextVar[str | None] = ContextVar("tenantmesh_caller_identity", default=None)


def current_tenant() -> TenantContext:
    """The tenant of a tenant-scoped call; calling it elsewhere is a programming error."""
    tenant = tenant_var.get()
    if tenant is None:
        raise FailedPrecondition("this call has no tenant context", reason=CommonReason.TENANT_CONTEXT_MISSING)
    return tenant


def current_principal() -> Principal:
    principal = principal_var.get()
    if principal is None:
        raise Unauthenticated("no authenticated principal")
    return principal


@contextmanager
def acting_for(tenant: TenantContext) -> Iterator[None]:
    """Background work for one tenant (a sweeper, a consumer): the block sees ``tenant`` as a call's
    handler would, so tenant databases and blobs are reached the same way."""
    token = tenant_var.set(tenant)
    try:
        yield
    finally:
        tenant_var.reset(token)
