"""Provisioning and purging a tenant, step by step, resumable after a crash.

Every step is idempotent and recorded in ``tenant_provisioning_steps``, and
the worker holds a lease on the tenant while it works. A tenant whose lease
runs out (its worker died) is picked up by the reconciler, which runs the
same code again: finished steps are skipped, the rest completes or is rolled
back. A failed provisioning leaves no database and no usable tenant behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, update

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, TenantDatabase, database_after
from services.runtime.errors import Unavailable
from services.runtime.events import Event
from services.runtime.fault_points import crash_point
from services.runtime.rich_status import reason_of
from services.runtime.telemetry.metrics import Metrics
from services.runtime.unit_of_work import UnitOfWork
from services.tenants import repository as repo
from services.tenants.models import TenantMoveRow, TenantRow
from services.tenants.participants import LifecycleParticipants
from services.tenants.reasons import TenantsReason
from services.tenants.repository import TenantRecord
from services.tenants.states import StepState, TenantState

log = logging.getLogger("tenantmesh.tenants.provisioning")

DATABASE_STEP = "database"
# A lifecycle participant found a database that belongs to another tenant:
# it is not ours, so rolling back must not drop it.
DATABASE_CONFLICT = TenantsReason.TENANT_DATABASE_CONFLICT


@dataclass(frozen=True)
class ProvisioningPolicy:
    lease_seconds: float


class Provisioner:
    def __init__(
        self,
        db: DatabaseRouter,
        participants: LifecycleParticipants,
        work: UnitOfWork,
        policy: ProvisioningPolicy,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._db = db
        self._participants = participants
        self._work = work
        self._policy = policy

    @property
    def step_names(self) -> tuple[str, ...]:
        return (DATABASE_STEP, *self._participants.names)

    async def provision(self, tenant_id: str, known: TenantRecord | None = None) -> TenantRecord | None:
        """Runs every pending step, then activates; on failure rolls back and raises Unavailable.

        ``known``: the tenant as its creator just wrote it (row and steps), which spares
        reading it back. Returns the activated tenant when it was built from ``known``,
        else None (the caller reads it if it needs it).
        """
        progress = _Progress()
        started = time.perf_counter()
        try:
            activated = await self._run_steps(tenant_id, known, progress)
        except Exception as exc:
            self._observe("provision", "failed", started)
            reason = reason_of(exc)
            log.warning("provisioning failed, rolling back", extra={"tenant_id": tenant_id, "reason": reason})
            await self.abandon(tenant_id, reason, tuple(progress.pending))
            raise Unavailable(
                "provisioning failed; it is rolled back",
                reason=TenantsReason.PROVISIONING_FAILED,
                metadata={"cause": reason},
            ) from exc
        self._observe("provision", "ok", started)
        return activated

    def _observe(self, operation: str, outcome: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.provisioning_duration.labels(operation, outcome).observe(time.perf_counter() - started)

    async def abandon(self, tenant_id: str, reason: str, also_done: Sequence[str] = ()) -> None:
        """Rolls a failed provisioning back; if the rollback fails too, the reconciler finishes it.

        The reason is recorded first, so a reconciler that takes the tenant
        over rolls it back rather than completing what the client was told
        had failed.
        """
        async with self._db.core_session() as session:
            await session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id, TenantRow.state == TenantState.PROVISIONING)
                .values(failure_reason=reason[:64])
            )
            await session.commit()
        try:
            await self.roll_back(tenant_id, reason, also_done)
        except Exception:
            log.exception("rollback incomplete; the reconciler will finish it", extra={"tenant_id": tenant_id})

    async def resume(self, tenant_id: str) -> None:
        """Continues a stalled provisioning: forward, or back if it had already failed."""
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
        if row is None or row.state != TenantState.PROVISIONING:
            return
        if row.failure_reason:
            await self.roll_back(tenant_id, row.failure_reason)
        else:
            await self.provision(tenant_id)

    async def _run_steps(self, tenant_id: str, known: TenantRecord | None, progress: _Progress) -> TenantRecord | None:
        record = known
        if record is None:
            async with self._db.core_session() as session:
                row = await repo.get_row(session, tenant_id)
                if row is None or row.state != TenantState.PROVISIONING:
                    return None
                record = await repo.load_record(session, row)
        placement = _placement(record.row)
        done = {s.step for s in record.steps if s.state == StepState.DONE}
        # A finished step is recorded together with the next one (each may be re-run, so a
        # crash before the record only repeats work), and the last with the activation:
        # one core transaction per participant, which also renews the lease.
        if DATABASE_STEP not in done:
            # An existing database with no DONE step is ours from a crashed attempt,
            # or an orphan; the participants' identity check tells them apart.
            await self._db.create_tenant_database(placement)
            progress.finished(DATABASE_STEP, None)
            crash_point(f"provision:{DATABASE_STEP}")
        pending = [service for service in self._participants.names if service not in done]
        for i, service in enumerate(pending):
            version = await self._participants.provision(service, tenant_id, placement)
            progress.finished(service, version)
            crash_point(f"provision:{service}")
            if i < len(pending) - 1:
                await self._record(tenant_id, progress)
        now = utcnow()
        async with self._work.core_connection() as work:
            if progress.pending:
                await repo.set_steps_done(work.conn, tenant_id, progress.pending, now)
            activated = await repo.activate(work.conn, tenant_id, now)
            if activated:
                work.emit(Event("tenant.created", tenant_id))
        crash_point("provision:activated")
        progress.written(now)
        if known is None or not activated:
            return None
        return _activated(known, progress, now)

    async def roll_back(self, tenant_id: str, reason: str, also_done: Sequence[str] = ()) -> None:
        """Undoes whatever provisioning did and leaves a FAILED record whose slug is free again.

        ``also_done``: steps this process finished but had not recorded yet.
        """
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
            # Only a provisioning is rolled back: a tenant that was activated meanwhile (its
            # activation committed, then something after it failed) is kept.
            if row is None or row.state != TenantState.PROVISIONING:
                return
            record = await repo.load_record(session, row)
        placement = _placement(row)
        finished = {s.step for s in record.steps if s.state == StepState.DONE} | set(also_done)
        done = [s.step for s in record.steps if s.step in finished and s.step != DATABASE_STEP]
        for service in reversed(done):
            await self._participants.deprovision(service, tenant_id, placement)
        if reason != DATABASE_CONFLICT:
            await self._db.drop_tenant_database(placement)
        now = utcnow()
        async with self._work.core() as work:
            session = work.session
            for step in record.steps:
                if step.step in finished or step.step == DATABASE_STEP:
                    await repo.set_step(session, tenant_id, step.step, StepState.FAILED, now)
            await session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id)
                .values(
                    state=TenantState.FAILED,
                    slug=None,
                    # Released like the slug: the client was told UNAVAILABLE, so it retries with
                    # the same request id, and that retry must be able to succeed.
                    create_request_id=None,
                    failure_reason=reason[:64],
                    lease_until=None,
                    update_time=now,
                    revision=TenantRow.revision + 1,
                )
            )
            work.emit(Event("tenant.failed", tenant_id, {"reason": reason}))

    async def purge(self, tenant_id: str) -> None:
        """Deprovisions every participant, drops the database and leaves a DELETED tombstone."""
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
            if row is None or row.state != TenantState.DELETING:
                return
            move = await session.get(TenantMoveRow, tenant_id)
        placement = _placement(row)
        try:
            for service in reversed(self._participants.names):
                await self._participants.deprovision(service, tenant_id, placement)
            await self._db.drop_tenant_database(placement)
            if move is not None and move.step != "done":
                # DeleteTenant refuses a tenant being moved, but one that started moving as it was
                # deleted has a second copy (the move's target, or its old copy after the switch).
                other = move.target_server if move.source_server == placement.server else move.source_server
                await self._db.drop_tenant_database(TenantDatabase(server=other, name=move.db_name))
        except Exception as exc:
            # The tenant stays DELETING; the reconciler retries once the lease runs out.
            raise Unavailable(
                "deleting the tenant is incomplete; it will be finished", reason=TenantsReason.PURGE_INCOMPLETE
            ) from exc
        now = utcnow()
        async with self._work.core() as work:
            await work.session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id, TenantRow.state == TenantState.DELETING)
                .values(
                    state=TenantState.DELETED,
                    slug=None,
                    # Released with the slug: a deleted tenant is not found, so a create that
                    # repeats its request id asks for a tenant anew rather than for a tombstone.
                    create_request_id=None,
                    lease_until=None,
                    update_time=now,
                    delete_time=now,
                    revision=TenantRow.revision + 1,
                )
            )
            if move is not None:
                await work.session.execute(delete(TenantMoveRow).where(TenantMoveRow.tenant_id == tenant_id))
            work.emit(Event("tenant.deleted", tenant_id))

    async def _record(self, tenant_id: str, progress: _Progress) -> None:
        # Recording finished steps also renews the lease: the worker is demonstrably alive.
        now = utcnow()
        async with self._db.core_transaction() as conn:
            await repo.set_steps_done(conn, tenant_id, progress.pending, now)
            await repo.renew_lease(conn, tenant_id, await database_after(conn, self._policy.lease_seconds))
            await conn.commit()
        progress.written(now)


@dataclass
class _Progress:
    """The steps one provisioning run has finished: ``pending`` not yet recorded, ``recorded`` with
    the version and time written for them."""

    pending: dict[str, str | None] = field(default_factory=dict)
    recorded: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)

    def finished(self, step: str, version: str | None) -> None:
        self.pending[step] = version

    def written(self, now: datetime) -> None:
        for step, version in self.pending.items():
            self.recorded[step] = (version, now)
        self.pending = {}


def _activated(record: TenantRecord, progress: _Progress, now: datetime) -> TenantRecord:
    """``record`` as ``_run_steps`` left it in the database: what reading it back would return."""
    row = record.row
    row.state = TenantState.ACTIVE
    row.lease_until = None
    row.update_time = now
    row.revision += 1
    for step in record.steps:
        if step.step in progress.recorded:
            version, written = progress.recorded[step.step]
            step.state = StepState.DONE
            step.update_time = written
            if version is not None:
                step.schema_version = version
    return record


def _placement(row: TenantRow) -> TenantDatabase:
    return TenantDatabase(server=row.db_server, name=row.db_name)
