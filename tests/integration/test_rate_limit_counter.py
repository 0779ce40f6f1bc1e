"""The rate limit counters and leases on a real Redis: never past the limit however many replicas
take from one window at once, nearly all of it handed out, refusals that spend nothing, windows
that expire, and asks that arrive together sharing one pipeline without sharing their grants."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.ratelimit.counter import Grant, RedisCounter, Window
from services.ratelimit.leases import LeaseBook, lease_size
from services.ratelimit.limits import Limit
from tests.support.ports import free_port

NOW = 1_000_000.0


class CountingCounter(RedisCounter):
    asks = 0

    def lease(self, window: Window, want: int) -> asyncio.Future[Grant]:
        self.asks += 1
        return super().lease(window, want)


@pytest.fixture
async def counters(redis_url: str) -> AsyncIterator[list[CountingCounter]]:
    """Two counters with connections of their own: two replicas of the service."""
    found = [CountingCounter(Redis.from_url(redis_url)) for _ in range(2)]
    try:
        yield found
    finally:
        for counter in found:
            await counter.close()


def window(limit: Limit) -> Window:
    return Window.current(f"t:{uuid.uuid4().hex}", limit, now=NOW)


async def test_concurrent_leases_never_grant_past_the_limit(counters: list[CountingCounter], redis_url: str) -> None:
    limit = Limit(6, 60)
    counted = window(limit)
    asks = [counters[i % 2].lease(counted, 1 + i % 3) for i in range(40)]
    grants = await asyncio.gather(*asks)
    assert sum(g.hits for g in grants) == limit.requests
    assert all(g.count <= limit.requests for g in grants)
    # Each grant took its own slots: the counts after them are all different, but for the refusals.
    assert len({g.count for g in grants if g.hits}) == len([g for g in grants if g.hits])
    client = Redis.from_url(redis_url)
    try:
        # The counter goes with its window (plus a second of slack for clocks).
        assert 0 < await client.ttl(counted.key) <= limit.window_seconds + 1
    finally:
        await client.aclose()


async def test_replicas_admit_at_most_the_limit_and_at_most_a_lease_less(counters: list[CountingCounter]) -> None:
    limit = Limit(1000, 60)
    books = [LeaseBook(counter, clock=lambda: NOW) for counter in counters]
    counted = window(limit)
    leases = [book.lease(counted) for book in books]
    taken = await asyncio.gather(*(books[i % 2].take([leases[i % 2]], 1) for i in range(1200)))
    admitted = taken.count(True)
    # Never past the limit; short of it by at most what the other replica holds unspent.
    assert limit.requests - (lease_size(limit) - 1) <= admitted <= limit.requests
    # Redis was asked once per lease, not once per request.
    assert sum(counter.asks for counter in counters) < 20


async def test_a_refused_request_spends_nothing_under_its_other_descriptors(counters: list[CountingCounter]) -> None:
    book = LeaseBook(counters[0], clock=lambda: NOW)
    tenant, route = book.lease(window(Limit(1000, 60))), book.lease(window(Limit(3, 60)))
    taken = [await book.take([tenant, route], 1) for _ in range(5)]
    assert taken == [True, True, True, False, False]
    # One replica: what it reports left is exact, its unspent lease counted.
    assert (tenant.remaining, route.remaining) == (997, 0)
    # A spent window is not asked about again: its refusals cost no round trip.
    asked = route.count
    assert not await book.take([route], 1)
    assert route.count == asked


async def test_an_unreachable_redis_fails_every_waiting_request() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    counter = RedisCounter(Redis.from_url(nowhere, socket_connect_timeout=0.2))
    try:
        book = LeaseBook(counter, clock=lambda: NOW)
        lease = book.lease(window(Limit(5, 1)))
        results = await asyncio.gather(*(book.take([lease], 1) for _ in range(3)), return_exceptions=True)
        # What the servicer turns into each descriptor's failure mode.
        assert all(isinstance(r, RedisError | OSError | TimeoutError) for r in results), results
    finally:
        await counter.close()
