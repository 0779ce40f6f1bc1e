"""RateLimitService.ShouldRateLimit: Envoy's ratelimit filter asks it about every request of a tenant."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from envoyapi.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from redis.exceptions import RedisError

from services.ratelimit.counter import OverLimitCache, RedisCounter, Window
from services.ratelimit.descriptors import Counted, read_request
from services.ratelimit.limits import Limit
from services.ratelimit.plans import TenantLimits
from services.ratelimit.settings import RateLimitSettings

log = logging.getLogger("tenantmesh.ratelimit")

# How often Redis being unreachable is logged.
WARNING_INTERVAL_SECONDS = 10.0

Code = rls_pb2.RateLimitResponse.Code
Status = rls_pb2.RateLimitResponse.DescriptorStatus
_UNITS = {
    1: rls_pb2.RateLimitResponse.RateLimit.SECOND,
    60: rls_pb2.RateLimitResponse.RateLimit.MINUTE,
    3600: rls_pb2.RateLimitResponse.RateLimit.HOUR,
    86_400: rls_pb2.RateLimitResponse.RateLimit.DAY,
}


def _limit_status(code: Any, window: Window, remaining: int, now: float) -> Status:
    status = Status(
        code=code,
        current_limit=rls_pb2.RateLimitResponse.RateLimit(
            requests_per_unit=window.limit.requests, unit=_UNITS[window.limit.window_seconds], name=str(window.limit)
        ),
        limit_remaining=max(0, remaining),
    )
    status.duration_until_reset.FromNanoseconds(max(0, int((window.ends_at - now) * 1e9)))
    return status


class RateLimitServicer(rls_pb2_grpc.RateLimitServiceServicer):
    def __init__(
        self,
        settings: RateLimitSettings,
        limits: TenantLimits,
        counter: RedisCounter,
        over_limit: OverLimitCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._limits = limits
        self._counter = counter
        self._over_limit = over_limit or OverLimitCache(clock=clock)
        self._clock = clock
        self._last_warning = -WARNING_INTERVAL_SECONDS
        self._uncounted_since_warning = 0

    async def ShouldRateLimit(self, request: rls_pb2.RateLimitRequest, context: Any) -> rls_pb2.RateLimitResponse:
        """Counts the request under each descriptor and answers OVER_LIMIT when any one is over its
        limit. Public to the edge alone (its mesh identity).

        Errors: FIELD_INVALID (a domain or descriptor the edge never sends).
        """
        descriptors, hits = read_request(request)
        now = self._clock()
        windows: list[Window | None] = []
        for counted in descriptors:
            limit = await self._limit_of(counted)
            windows.append(Window.current(counted.name, limit, now) if counted and limit else None)
        live = [w for w in windows if w is not None]
        if any(w in self._over_limit for w in live):
            # Refused anyway: the request is not counted against the descriptors' other windows.
            return self._answer(windows, dict.fromkeys((w.key for w in live if w in self._over_limit), -1), now)
        try:
            counts = await self._counter.count(live, hits) if live else []
        except (RedisError, OSError, TimeoutError) as exc:
            self._warn_uncounted(exc)
            return self._uncounted(descriptors, windows)
        remaining: dict[str, int] = {}
        for window, count in zip(live, counts, strict=True):
            remaining[window.key] = window.limit.requests - count
            if count > window.limit.requests:
                self._over_limit.add(window)
        return self._answer(windows, remaining, now)

    def _warn_uncounted(self, exc: BaseException) -> None:
        # Once in a while, not once per request: with Redis down every request lands here.
        self._uncounted_since_warning += 1
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            log.warning(
                "rate limit counters unavailable (%s); %d requests answered by their failure mode",
                type(exc).__name__,
                self._uncounted_since_warning,
            )
            self._last_warning, self._uncounted_since_warning = now, 0

    async def _limit_of(self, counted: Counted | None) -> Limit | None:
        if counted is None:
            return None
        return (await self._limits.of(counted.tenant_id)).of(counted.scope)

    def _answer(self, windows: list[Window | None], remaining: dict[str, int], now: float) -> rls_pb2.RateLimitResponse:
        statuses = []
        for window in windows:
            if window is None or window.key not in remaining:
                statuses.append(Status(code=Code.OK))
                continue
            left = remaining[window.key]
            statuses.append(_limit_status(Code.OVER_LIMIT if left < 0 else Code.OK, window, left, now))
        over = any(s.code == Code.OVER_LIMIT for s in statuses)
        return rls_pb2.RateLimitResponse(overall_code=Code.OVER_LIMIT if over else Code.OK, statuses=statuses)

    def _uncounted(self, descriptors: list[Counted | None], windows: list[Window | None]) -> rls_pb2.RateLimitResponse:
        """Redis could not count: each limited descriptor gets its scope's failure mode."""
        statuses = []
        for counted, window in zip(descriptors, windows, strict=True):
            closed = counted is not None and window is not None and counted.scope in self._settings.fail_closed
            statuses.append(Status(code=Code.OVER_LIMIT if closed else Code.OK))
        over = any(s.code == Code.OVER_LIMIT for s in statuses)
        return rls_pb2.RateLimitResponse(overall_code=Code.OVER_LIMIT if over else Code.OK, statuses=statuses)
