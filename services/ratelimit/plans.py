"""Each tenant's limits: its plan and its own ``rate_limit.*`` settings, asked of the tenants service.

Answers are cached per tenant and dropped by tenant events (an UpdateTenant of the plan or the
settings applies at once in every replica), the time to live bounding staleness should an event
be lost. Concurrent lookups of one tenant share a single call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import grpc
from tenantmesh.tenants.v1 import tenant_service_pb2, tenant_service_pb2_grpc

from services.ratelimit.limits import PlanLimits
from services.ratelimit.settings import RateLimitSettings
from services.runtime.cache import MISS, Cache, tenant_of
from services.runtime.credentials import ServiceCredentials
from services.runtime.events import EventBus

log = logging.getLogger("tenantmesh.ratelimit")

# An unknown tenant id gets the default plan; remembered briefly, so a flood naming one costs
# one lookup now and then.
UNKNOWN_TENANT_TTL_SECONDS = 2.0
_NOT_A_TENANT = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)


class TenantLimits:
    def __init__(
        self,
        settings: RateLimitSettings,
        channel: Callable[[], grpc.aio.Channel],
        credentials: ServiceCredentials,
        events: EventBus | None = None,
    ) -> None:
        self._settings = settings
        self._channel = channel
        self._credentials = credentials
        self._cache: Cache[str, PlanLimits] = Cache("rate-limit-plans", ttl_seconds=settings.plan_cache_seconds)
        self._pending: dict[str, asyncio.Future[PlanLimits]] = {}
        if events is not None:
            self._cache.drop_on(events, "tenant.", tenant_of)

    async def of(self, tenant_id: str) -> PlanLimits:
        cached = self._cache.get(tenant_id)
        if cached is not MISS:
            return cached
        pending = self._pending.get(tenant_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[PlanLimits] = asyncio.get_running_loop().create_future()
        self._pending[tenant_id] = future
        try:
            limits = await self._lookup(tenant_id)
            future.set_result(limits)
            return limits
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else must
            raise
        finally:
            del self._pending[tenant_id]

    def drop(self, tenant_id: str) -> None:
        self._cache.pop(tenant_id)

    async def _lookup(self, tenant_id: str) -> PlanLimits:
        stub: Any = tenant_service_pb2_grpc.TenantServiceStub(self._channel())
        try:
            response = await stub.GetTenant(
                tenant_service_pb2.GetTenantRequest(tenant_id=tenant_id),
                metadata=await self._credentials.metadata(),
                timeout=2,
            )
        except grpc.aio.AioRpcError as exc:
            default = self._settings.plan("")
            if exc.code() in _NOT_A_TENANT:
                self._cache.put(tenant_id, default, UNKNOWN_TENANT_TTL_SECONDS)
            else:
                # Not cached: the next request asks again.
                log.warning("tenant lookup failed, default limits apply: %s", exc.code().name)
            return default
        tenant = response.tenant
        limits = self._settings.plan(tenant.plan).overridden_by(dict(tenant.settings))
        self._cache.put(tenant_id, limits)
        return limits
