"""Probes of the runtime's shared resources for the metrics sampler (see sampler.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis.asyncio as redis
from sqlalchemy.pool import QueuePool

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.events import RedisStreamsEventBus
from services.runtime.outbox import OutboxRelay
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.sampler import Probe


def pool_probe(db: DatabaseRouter, metrics: Metrics) -> Probe:
    async def probe() -> None:
        for (server, kind), engine in db.pools().items():
            pool = engine.sync_engine.pool
            if not isinstance(pool, QueuePool):
                continue
            size = pool.size()
            metrics.db_pool_size.labels(server, kind).set(size)
            metrics.db_pool_in_use.labels(server, kind).set(pool.checkedout())
            metrics.db_pool_overflow.labels(server, kind).set(max(pool.overflow(), 0))
            metrics.db_pool_capacity.labels(server, kind).set(size + pool._max_overflow)

    return probe


def outbox_probe(relay: OutboxRelay, metrics: Metrics) -> Probe:
    async def probe() -> None:
        count, oldest = await relay.backlog()
        metrics.outbox_backlog.set(count)
        metrics.outbox_oldest_age.set(_age(oldest))
        # From memory: the relay reads tenant outboxes only when it drains them.
        tenants, tenant_oldest = relay.tenant_backlog.summary()
        metrics.tenant_outboxes_backlogged.set(tenants)
        metrics.tenant_outbox_oldest_age.set(_age(tenant_oldest))

    return probe


def _age(committed: datetime | None) -> float:
    """Seconds since ``committed`` (0 for None: nothing waits)."""
    return max((utcnow() - committed).total_seconds(), 0.0) if committed is not None else 0.0


def stream_probe(bus: RedisStreamsEventBus, metrics: Metrics) -> Probe:
    async def probe() -> None:
        client: Any = bus.client
        try:
            found = await client.xinfo_groups(bus.settings.stream)
        except redis.ResponseError as exc:
            # A stream deleted under the bus (FLUSHDB, an operator) takes its groups with it:
            # nothing to report until the bus makes it again, which is not the probe's failure.
            if "no such key" not in str(exc):
                raise
            found = []
        groups = {g["name"].decode(): g for g in found}
        for name in bus.groups():
            info = groups.get(name)
            if info is None:
                continue
            # Redis 7 reports the group's lag (None when it cannot tell, after deletions).
            lag = info.get("lag")
            if lag is not None:
                metrics.consumer_lag.labels(name).set(int(lag))
            metrics.consumer_pending.labels(name).set(int(info.get("pending", 0)))

    return probe
