"""Wiring of the rate limit service: the edge's global, per-tenant limits, counted in Redis.

It runs only where Redis does (``ServiceSpec.needs_redis``): in the embedded default without
Redis there is one edge, and its own per-instance limits stay in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from services.ratelimit.counter import RedisCounter
from services.ratelimit.plans import TenantLimits
from services.ratelimit.servicer import RateLimitServicer
from services.ratelimit.settings import RateLimitSettings, load_rate_limit_settings
from services.runtime.config import ConfigError
from services.runtime.service import ServiceApp
from services.runtime.tenant_directory import TenantDirectory

if TYPE_CHECKING:
    from services.runtime.app import Runtime

SERVICE = "ratelimit"


class RateLimitApp(ServiceApp):
    name = SERVICE

    def __init__(
        self,
        runtime: Runtime,
        *,
        tenants: TenantDirectory | None = None,
        settings: RateLimitSettings | None = None,
    ) -> None:
        super().__init__(runtime, tenants=tenants)
        self.settings = settings or load_rate_limit_settings(runtime.settings.environment)
        if self.settings.redis_url is None:
            raise ConfigError("the rate limit service counts in Redis: set REDIS_URL")
        timeout = self.settings.redis_timeout_seconds
        self.counter = RedisCounter(
            Redis.from_url(self.settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        )
        self.limits = TenantLimits(
            self.settings, lambda: runtime.channel("tenants"), runtime.credentials, runtime.events
        )

    def servicers(self) -> Sequence[object]:
        return [RateLimitServicer(self.settings, self.limits, self.counter)]

    async def stop(self) -> None:
        await self.counter.close()
