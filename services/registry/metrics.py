"""The registry gauge: live service instances (lease not expired) by health (sampled, see telemetry.sampler)."""

from __future__ import annotations

from sqlalchemy import func, select

from services.registry.definitions import HealthState
from services.registry.models import InstanceRow
from services.runtime.db import DatabaseRouter, LeaseClock
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.sampler import Probe


def instance_health_probe(db: DatabaseRouter, metrics: Metrics, clock: LeaseClock) -> Probe:
    async def probe() -> None:
        async with db.core_session() as session:
            query = (
                select(InstanceRow.health, func.count())
                .where(InstanceRow.lease_until > await clock(session))
                .group_by(InstanceRow.health)
            )
            counts = dict((await session.execute(query)).all())
        for state in HealthState:
            metrics.registry_instances.labels(state.value).set(int(counts.get(state.value, 0)))

    return probe
