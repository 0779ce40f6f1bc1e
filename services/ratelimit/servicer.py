"""RateLimitService.ShouldRateLimit: Envoy's ratelimit filter asks it about every request of a tenant."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from envoyapi.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.protobuf.duration_pb2 import Duration
from redis.exceptions import RedisError

from services.ratelimit.counter import RedisCounter, Window
from services.ratelimit.descriptors import Counted, read_request
from services.ratelimit.leases import Lease, LeaseBook
from services.ratelimit.limits import Limit
from services.ratelimit.plans import TenantLimits
from services.ratelimit.settings import RateLimitSettings

log = logging.getLogger("tenantmesh.ratelimit")

# How often Redis being unreachable is logged.
WARNING_INTERVAL_SECONDS = 10.0

Response = rls_pb2.RateLimitResponse
Code = Response.Code
Status = Response.DescriptorStatus
_UNITS = {
    1: Response.RateLimit.SECOND,
    60: Response.RateLimit.MINUTE,
    3600: Response.RateLimit.HOUR,
    86_400: Response.RateLimit.DAY,
}
_NOT_LIMITED = Status(code=Code.OK)
_REFUSED = Status(code=Code.OVER_LIMIT)
# The limit as Envoy's headers name it, made once per limit (a few plans: a handful of limits).
_described: dict[Limit, Response.RateLimit] = {}


def _described_limit(limit: Limit) -> Response.RateLimit:
    found = _described.get(limit)
    if found is None:
        found = _described[limit] = Response.RateLimit(
            requests_per_unit=limit.requests, unit=_UNITS[limit.window_seconds], name=str(limit)
        )
    return found


def _status(over: bool, lease: Lease, now: float) -> Status:
    window = lease.window
    until_reset = max(0.0, window.ends_at - now)
    seconds = int(until_reset)
    return Status(
        code=Code.OVER_LIMIT if over else Code.OK,
        current_limit=_described_limit(window.limit),
        limit_remaining=0 if over else lease.remaining,
        duration_until_reset=Duration(seconds=seconds, nanos=int((until_reset - seconds) * 1e9)),
    )


class RateLimitServicer(rls_pb2_grpc.RateLimitServiceServicer):
    def __init__(
        self,
        settings: RateLimitSettings,
        limits: TenantLimits,
        counter: RedisCounter,
        leases: LeaseBook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._limits = limits
        self._leases = leases or LeaseBook(counter, clock=clock)
        self._clock = clock
        self._last_warning = -WARNING_INTERVAL_SECONDS
        self._uncounted_since_warning = 0

    async def ShouldRateLimit(self, request: rls_pb2.RateLimitRequest, context: Any) -> rls_pb2.RateLimitResponse:
        """Spends the request's hits under each descriptor and answers OVER_LIMIT when any one has
        not that many left (the request then spends nothing). Public to the edge alone (its mesh
        identity).

        Errors: FIELD_INVALID (a domain or descriptor the edge never sends).
        """
        descriptors, hits = read_request(request)
        now = self._clock()
        leases: list[Lease | None] = []
        for counted in descriptors:
            limit = await self._limit_of(counted)
            leases.append(self._leases.lease(Window.current(counted.name, limit, now)) if counted and limit else None)
        live = [lease for lease in leases if lease is not None]
        if not live:
            return Response(overall_code=Code.OK, statuses=[_NOT_LIMITED] * len(leases))
        try:
            allowed = await self._leases.take(live, hits)
        except (RedisError, OSError, TimeoutError) as exc:
            self._warn_uncounted(exc)
            return self._uncounted(descriptors, leases)
        statuses = [
            _NOT_LIMITED if lease is None else _status(not allowed and lease.left < hits, lease, now)
            for lease in leases
        ]
        return Response(overall_code=Code.OK if allowed else Code.OVER_LIMIT, statuses=statuses)

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

    def _uncounted(self, descriptors: list[Counted | None], leases: list[Lease | None]) -> rls_pb2.RateLimitResponse:
        """Redis could not count: each limited descriptor gets its scope's failure mode."""
        statuses = [
            _REFUSED
            if counted is not None and lease is not None and counted.scope in self._settings.fail_closed
            else _NOT_LIMITED
            for counted, lease in zip(descriptors, leases, strict=True)
        ]
        over = any(s is _REFUSED for s in statuses)
        return Response(overall_code=Code.OVER_LIMIT if over else Code.OK, statuses=statuses)
