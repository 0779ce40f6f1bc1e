"""Migrating every tenant database: bounded concurrency, one result per tenant.

Each tenant is brought to head by every tenant-scoped service (the same
idempotent ProvisionTenant call provisioning uses) and the revision each
service reports is recorded. A failing tenant is reported and the run goes on;
running it again only does what is still missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.errors import CommonReason, NotFound
from services.runtime.fault_points import crash_point
from services.runtime.rich_status import reason_of
from services.runtime.telemetry.metrics import Metrics
from services.tenants import repository as repo
from services.tenants.models import TenantRow
from services.tenants.participants import LifecycleParticipants
from services.tenants.states import StepState

log = logging.getLogger("tenantmesh.tenants.migrate")

DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    schema_version: str
    error_reason: str


@dataclass(frozen=True)
class TenantOutcome:
    tenant_id: str
    slug: str
    services: tuple[ServiceOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(not s.error_reason for s in self.services)


class TenantMigrator:
    def __init__(self, db: DatabaseRouter, participants: LifecycleParticipants, metrics: Metrics | None = None) -> None:
        self._db = db
        self._participants = participants
        self._metrics = metrics

    async def run(self, tenant_ids: Sequence[str], concurrency: int) -> tuple[int, AsyncIterator[TenantOutcome]]:
        """Returns how many tenants the run covers and the outcomes as tenants finish."""
        async with self._db.core_session() as session:
            rows = await repo.migratable_rows(session, tenant_ids)
        # A tenant named but not in the run would go unmentioned: a typo'd id "migrated 0 of 0".
        found = {row.tenant_id for row in rows}
        missing = [tenant_id for tenant_id in tenant_ids if tenant_id not in found]
        if missing:
            raise NotFound(
                f"no active or suspended tenant has the id {', '.join(missing)}: nothing was migrated",
                reason=CommonReason.TENANT_NOT_FOUND,
                metadata={"tenant_ids": ",".join(missing)},
            )
        return len(rows), self._outcomes(rows, concurrency or DEFAULT_CONCURRENCY)

    async def _outcomes(self, rows: Sequence[TenantRow], concurrency: int) -> AsyncIterator[TenantOutcome]:
        gate = asyncio.Semaphore(concurrency)

        async def one(row: TenantRow) -> TenantOutcome:
            async with gate:
                started = time.perf_counter()
                outcome = await self._migrate(row)
                if self._metrics is not None:
                    self._metrics.provisioning_duration.labels("migrate", "ok" if outcome.ok else "failed").observe(
                        time.perf_counter() - started
                    )
                return outcome

        tasks = [asyncio.create_task(one(row)) for row in rows]
        try:
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            # The caller went away (stream cancelled): stop starting new work.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _migrate(self, row: TenantRow) -> TenantOutcome:
        placement = TenantDatabase(server=row.db_server, name=row.db_name)
        outcomes = []
        for service in self._participants.names:
            try:
                version = await self._participants.provision(service, row.tenant_id, placement)
            except Exception as exc:
                reason = reason_of(exc)
                log.warning(
                    "tenant migration failed",
                    extra={"tenant_id": row.tenant_id, "service": service, "reason": reason},
                )
                outcomes.append(ServiceOutcome(service, "", reason))
                continue
            outcomes.append(ServiceOutcome(service, version, ""))
            # Migrated but not yet recorded: the worst moment for the process to die.
            crash_point(f"migrate:{service}")
            async with self._db.core_session() as session:
                now = utcnow()
                await repo.ensure_step(session, row.tenant_id, service, now)
                await repo.set_step(session, row.tenant_id, service, StepState.DONE, now, version)
                await session.commit()
        return TenantOutcome(row.tenant_id, row.slug or row.former_slug, tuple(outcomes))
