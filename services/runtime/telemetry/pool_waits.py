"""How long calls wait for a database connection: a histogram per pool.

The sampled gauges (in use, overflow) say a pool is busy; only the wait says that calls queue
for it. SQLAlchemy announces a checkout once it has happened and has no event before one, so
the pool's own "get a connection" step is timed: it returns at once while a connection is
idle, and otherwise blocks until one is returned or a new one is opened (opening it is part
of the wait, as the caller experiences it). Timed only while a pool is instrumented here;
nothing else in SQLAlchemy is changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.pool import Pool, QueuePool

from services.runtime.db import DatabaseRouter
from services.runtime.telemetry.metrics import Metrics


def time_pool_waits(db: DatabaseRouter, metrics: Metrics) -> None:
    """Every checkout from ``db``'s pools observes its wait in tenantmesh_db_pool_wait_seconds."""
    for (server, kind), engine in db.pools().items():
        pool = engine.sync_engine.pool
        if isinstance(pool, QueuePool):
            # The label child is resolved once here, not per checkout.
            _time_gets(pool, metrics.db_pool_wait.labels(server, kind).observe)


def _time_gets(pool: Pool, observe: Callable[[float], None]) -> None:
    get: Callable[[], Any] = pool._do_get  # the step a checkout waits in (QueuePool: its queue)

    def timed_get() -> Any:
        started = time.perf_counter()
        try:
            return get()
        finally:
            observe(time.perf_counter() - started)

    pool._do_get = timed_get  # type: ignore[method-assign]
