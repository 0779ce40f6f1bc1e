"""Leases: hits of a window taken from Redis in advance and spent here, request by request.

Asking Redis for every request cost this service as much CPU as the request itself costs the
service it goes to. So a window's hits are taken a batch at a time (``lease_size``: a twentieth of
the limit, at most 100, at least what the requests waiting for the lease need) and spent locally;
Redis is asked again when the lease runs out. Redis never grants past the limit, so the edges
together never let more through than the limit, however many replicas of this service run. The
price is the other way: hits one replica holds unspent are not available to another, so with R
replicas a tenant can be refused up to (R - 1) x (lease size - 1) requests short of its limit in a
window (more only by the hits of requests that waited for a refill and were then refused under
another descriptor). Small limits (under 40 per window) are leased one hit at a time, exact as before.

A window whose counter has reached its limit is not asked about again until it ends: its leases
are what remain, then every request naming it is refused without Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from services.ratelimit.counter import Grant, RedisCounter, Window
from services.ratelimit.limits import Limit

LEASE_FRACTION = 20
MAX_LEASE = 100


def lease_size(limit: Limit) -> int:
    return max(1, min(MAX_LEASE, limit.requests // LEASE_FRACTION))


class Lease:
    """The hits of one window (under one limit) this process holds."""

    __slots__ = ("count", "demand", "left", "queued", "spent", "window")

    def __init__(self, window: Window) -> None:
        self.window = window
        # Hits taken from Redis and not spent yet.
        self.left = 0
        # The window's count in Redis at the last grant (every replica's hits, this lease's included).
        self.count = 0
        # The counter reached the limit: Redis has nothing more to give in this window.
        self.spent = False
        # Hits the requests waiting on the queued refill need.
        self.demand = 0
        # The refill asked for and not sent yet (requests arriving meanwhile share it).
        self.queued: asyncio.Future[Grant] | None = None

    @property
    def remaining(self) -> int:
        """The window's hits still free as far as this process knows (its unspent lease included)."""
        return max(0, self.window.limit.requests - self.count + self.left)


class LeaseBook:
    """This process's leases, bounded (ended windows go first), with the refills they need."""

    def __init__(self, counter: RedisCounter, max_entries: int = 100_000, clock: Callable[[], float] = time.time):
        self._counter = counter
        self._leases: dict[tuple[str, Limit], Lease] = {}
        self._max = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._leases)

    def lease(self, window: Window) -> Lease:
        """The lease of ``window`` (a tenant whose plan changed gets a fresh one under its new limit)."""
        key = (window.key, window.limit)
        found = self._leases.get(key)
        if found is not None:
            return found
        if len(self._leases) >= self._max:
            self._forget_ended()
        lease = self._leases[key] = Lease(window)
        return lease

    async def take(self, leases: Sequence[Lease], hits: int) -> bool:
        """Spends ``hits`` of every lease, refilling them from Redis as needed; False (nothing
        spent) when any window has not that many left. Raises redis errors."""
        while True:
            short = [lease for lease in leases if lease.left < hits]
            if not short:
                for lease in leases:
                    lease.left -= hits
                return True
            if any(lease.spent for lease in short):
                return False
            error: BaseException | None = None
            for future in [self._refill(lease, hits) for lease in short]:
                try:
                    # Shielded: other requests wait for the same refill, a caller giving up must not cancel it.
                    await asyncio.shield(future)
                except Exception as exc:  # every refill's failure retrieved, the first one raised
                    error = error or exc
            if error is not None:
                raise error

    def _refill(self, lease: Lease, hits: int) -> asyncio.Future[Grant]:
        lease.demand += hits
        if lease.queued is None:
            future = lease.queued = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._send, lease, future)
        return lease.queued

    def _send(self, lease: Lease, future: asyncio.Future[Grant]) -> None:
        # Sent a turn of the loop after the first ask, so that the requests of this turn share it.
        want = max(lease_size(lease.window.limit), lease.demand - lease.left)
        lease.queued, lease.demand = None, 0
        granted = self._counter.lease(lease.window, want)
        granted.add_done_callback(lambda done: self._granted(lease, done, future))

    @staticmethod
    def _granted(lease: Lease, done: asyncio.Future[Grant], future: asyncio.Future[Grant]) -> None:
        if done.cancelled():
            future.cancel()
            return
        error = done.exception()
        if error is not None:
            future.set_exception(error)
            return
        grant = done.result()
        lease.left += grant.hits
        lease.count = max(lease.count, grant.count)
        lease.spent = grant.count >= lease.window.limit.requests
        future.set_result(grant)

    def _forget_ended(self) -> None:
        now = self._clock()
        for key in [k for k, lease in self._leases.items() if lease.window.ends_at <= now]:
            del self._leases[key]
        if len(self._leases) >= self._max:  # all live: forget the oldest
            del self._leases[next(iter(self._leases))]
