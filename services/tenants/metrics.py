"""The tenants gauge: how many tenants are in each lifecycle state (sampled, see telemetry.sampler)."""

from __future__ import annotations

from sqlalchemy import func, select

from services.runtime.db import DatabaseRouter
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.sampler import Probe
from services.tenants.models import TenantRow
from services.tenants.states import TenantState


def tenant_count_probe(db: DatabaseRouter, metrics: Metrics) -> Probe:
    async def probe() -> None:
        async with db.core_session() as session:
            counts = dict(
                (await session.execute(select(TenantRow.state, func.count()).group_by(TenantRow.state))).all()
            )
        for state in TenantState:
            metrics.tenants.labels(state.value).set(int(counts.get(state.value, 0)))

    return probe
