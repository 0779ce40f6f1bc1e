"""The registry gauge: live service instances (lease not expired) by health (sampled, see telemetry.sampler)."""

from __future__ import annotations

from sqlalchemy import func, select

from services.registry.definitions import HealthState
from services.registry.instances import Clock
from services.registry.models import InstanceRow
from services.runtime.db import DatabaseRouter
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.sampler import Probe


def instance_health_probe(db: DatabaseRouter, metrics: Metrics, clock: Clock) -> Probe:
    async def probe() -> None:
        query = (
            select(InstanceRow.health, func.count())
            .where(InstanceRow.lease_until > clock())
            .group_by(InstanceRow.health)
        )
        async with db.core_session() as session:
            counts = dict((await session.execute(query)).all())
        for state in HealthState:
            metrics.registry_instances.labels(state.value).set(int(counts.get(state.value, 0)))

    return probe
