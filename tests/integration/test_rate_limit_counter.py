"""The rate limit counters on a real Redis: atomic under concurrency, windows that expire, and
requests that arrive together sharing one pipeline without sharing their counts."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.ratelimit.counter import RedisCounter, Window
from services.ratelimit.limits import Limit
from tests.support.processes import free_port


async def test_concurrent_counts_never_hand_out_the_same_slot(redis_url: str) -> None:
    counter = RedisCounter(Redis.from_url(redis_url))
    try:
        limit = Limit(6, 60)
        name = f"t:{uuid.uuid4().hex}"
        window = Window.current(name, limit, now=1_000_000.0)
        other = Window.current(f"r:{name}:tenants", limit, now=1_000_000.0)
        results = await asyncio.gather(*(counter.count([window, other], 1) for _ in range(40)))
        # 40 requests, each counted once under both descriptors: every total from 1 to 40 exactly once.
        assert sorted(r[0] for r in results) == list(range(1, 41))
        assert sorted(r[1] for r in results) == list(range(1, 41))
        assert [r[0] <= limit.requests for r in results].count(True) == limit.requests
        assert await counter.count([window], 5) == [45]
        client = Redis.from_url(redis_url)
        try:
            # The counter goes with its window (plus a second of slack for clocks).
            assert 0 < await client.ttl(window.key) <= limit.window_seconds + 1
        finally:
            await client.aclose()
    finally:
        await counter.close()


async def test_an_unreachable_redis_fails_every_waiting_count() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    counter = RedisCounter(Redis.from_url(nowhere, socket_connect_timeout=0.2))
    try:
        window = Window.current(f"t:{uuid.uuid4().hex}", Limit(5, 1), now=0.0)
        results = await asyncio.gather(*(counter.count([window], 1) for _ in range(3)), return_exceptions=True)
        # What the servicer turns into each descriptor's failure mode.
        assert all(isinstance(r, RedisError | OSError | TimeoutError) for r in results), results
    finally:
        await counter.close()
