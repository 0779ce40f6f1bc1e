"""The pool wait histogram: every checkout is timed, and one that queues behind a busy pool shows its wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from services.runtime.db import DatabaseRouter
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.pool_waits import time_pool_waits

HOLD_SECONDS = 0.2


@pytest.fixture
async def router(db_backend_url: str) -> AsyncIterator[DatabaseRouter]:
    # One connection: a second checkout has to wait for the first to come back.
    router = DatabaseRouter(db_backend_url, pool_size=1, max_overflow=0)
    await router.start()
    try:
        yield router
    finally:
        await router.dispose()


def wait_samples(metrics: Metrics, server: str, pool: str) -> tuple[float, float]:
    """(checkouts timed, seconds waited in all)."""
    registry = metrics.registry
    labels = {"server": server, "pool": pool}
    count = registry.get_sample_value("tenantmesh_db_pool_wait_seconds_count", labels)
    total = registry.get_sample_value("tenantmesh_db_pool_wait_seconds_sum", labels)
    return count or 0.0, total or 0.0


async def test_a_checkout_waiting_for_a_busy_pool_is_observed_with_its_wait(router: DatabaseRouter) -> None:
    metrics = Metrics()
    time_pool_waits(router, metrics)
    server, pool = next(iter(router.pools()))
    before = wait_samples(metrics, server, pool)
    holding = asyncio.Event()

    async def hold_the_only_connection() -> None:
        async with router.core_connection() as conn:
            await conn.execute(text("SELECT 1"))
            holding.set()
            await asyncio.sleep(HOLD_SECONDS)  # the pool is busy for this long: the wait being measured

    holder = asyncio.create_task(hold_the_only_connection())
    await holding.wait()
    async with router.core_connection() as conn:  # queues until the holder gives the connection back
        await conn.execute(text("SELECT 1"))
    await holder

    after = wait_samples(metrics, server, pool)
    count, total = (now - earlier for now, earlier in zip(after, before, strict=True))
    assert count == 2  # the holder's checkout and ours
    assert total >= HOLD_SECONDS * 0.8  # ours waited while the holder kept the connection
