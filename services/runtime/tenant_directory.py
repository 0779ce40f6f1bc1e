"""Where services learn a tenant's state and database placement.

The tenants service answers from its own tables; every other service asks it
over gRPC. Either way the answer is cached per process and dropped when a
tenant event arrives, so the tenant check costs no call per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from services.runtime.cache import MISS, Cache
from services.runtime.context import TenantContext, TenantState
from services.runtime.credentials import ServiceCredentials
from services.runtime.events import Event, EventBus
from services.runtime.proto_values import from_proto
from services.runtime.tenant_db import placement_from_proto

# Unknown ids are cached briefly too, so a flood of calls naming a tenant that
# does not exist does not turn into a flood of lookups.
NEGATIVE_TTL_SECONDS = 2.0


class TenantDirectory(Protocol):
    async def lookup(self, tenant_id: str) -> TenantContext | None: ...


def tenant_context_from_proto(tenant: tenant_pb2.Tenant) -> TenantContext:
    return TenantContext(
        tenant_id=tenant.tenant_id,
        slug=tenant.slug,
        state=from_proto(TenantState, tenant_pb2.TenantState, tenant.state) or TenantState.FAILED,
        database=placement_from_proto(tenant.database),
    )


class RemoteTenantDirectory:
    """Looks tenants up through the tenants service, with the service's own credentials.

    ``channel`` is asked for every lookup: the resolver may have pointed the tenants service's
    address at another replica since (the one it pointed at died), and a channel taken once
    would keep calling the dead one.
    """

    def __init__(self, channel: Callable[[], grpc.aio.Channel], credentials: ServiceCredentials) -> None:
        self._channel = channel
        self._stubs: tuple[grpc.aio.Channel, Any] | None = None
        self._credentials = credentials

    def _stub(self) -> Any:
        channel = self._channel()
        if self._stubs is None or self._stubs[0] is not channel:
            self._stubs = (channel, tenant_service_pb2_grpc.TenantServiceStub(channel))
        return self._stubs[1]

    async def lookup(self, tenant_id: str) -> TenantContext | None:
        return await self._get(tenant_service_pb2.GetTenantRequest(tenant_id=tenant_id))

    async def lookup_slug(self, slug: str) -> TenantContext | None:
        return await self._get(tenant_service_pb2.GetTenantRequest(slug=slug))

    async def _get(self, request: tenant_service_pb2.GetTenantRequest) -> TenantContext | None:
        try:
            response = await self._stub().GetTenant(request, metadata=await self._credentials.metadata(), timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        return tenant_context_from_proto(response.tenant)


class CachedTenantDirectory:
    def __init__(
        self, source: TenantDirectory, ttl_seconds: float, events: EventBus | None = None, max_entries: int = 10_000
    ) -> None:
        self._source = source
        self._ttl = ttl_seconds
        self._entries: Cache[str, TenantContext | None] = Cache(
            "tenant-directory", ttl_seconds=ttl_seconds, max_entries=max_entries
        )
        self._slugs: Cache[str, str] = Cache("tenant-slugs", ttl_seconds=ttl_seconds, max_entries=max_entries)
        if events is not None:
            events.subscribe("tenant.", self._on_tenant_event)

    async def lookup_slug(self, slug: str) -> TenantContext | None:
        """By slug, for sources that can (the remote directory); the slug's id is cached too."""
        known = self._slugs.get(slug)
        if known is not MISS:
            return await self.lookup(known)
        lookup_slug = getattr(self._source, "lookup_slug", None)
        if lookup_slug is None:
            return None
        # Each cache's own ticket: a change dropping either while the slug is read keeps it out.
        slugs_read_at, entries_read_at = self._slugs.ticket(), self._entries.ticket()
        tenant: TenantContext | None = await lookup_slug(slug)
        if tenant is not None:
            self._slugs.put(slug, tenant.tenant_id, read_at=slugs_read_at)
            self._entries.put(tenant.tenant_id, tenant, read_at=entries_read_at)
        return tenant

    async def lookup(self, tenant_id: str) -> TenantContext | None:
        cached = self._entries.get(tenant_id)
        if cached is not MISS:
            return cached
        # A change dropping the tenant while it is read must not be undone by this put.
        read_at = self._entries.ticket()
        tenant = await self._source.lookup(tenant_id)
        ttl = None if tenant is not None else min(self._ttl, NEGATIVE_TTL_SECONDS)
        self._entries.put(tenant_id, tenant, ttl, read_at=read_at)
        return tenant

    def invalidate(self, tenant_id: str) -> None:
        self._entries.pop(tenant_id)
        # A purged tenant's slug may be taken by a new tenant.
        self._slugs.drop_where(lambda _slug, known: known == tenant_id)

    async def _on_tenant_event(self, event: Event) -> None:
        if event.tenant_id:
            self.invalidate(event.tenant_id)
