"""Provisioning and purging a tenant, step by step, resumable after a crash.

Every step is idempotent and recorded in ``tenant_provisioning_steps``, and
the worker holds a lease on the tenant while it works. A tenant whose lease
runs out (its worker died) is picked up by the reconciler, which runs the
same code again: finished steps are skipped, the rest completes or is rolled
back. A failed provisioning leaves no database and no usable tenant behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update

from services.runtime.clock import after, utcnow
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.errors import Unavailable
from services.runtime.events import Event, EventBus
from services.runtime.rich_status import reason_of
from services.tenants import repository as repo
from services.tenants.models import TenantRow
from services.tenants.participants import LifecycleParticipants

log = logging.getLogger("tenantmesh.tenants.provisioning")

DATABASE_STEP = "database"
# A lifecycle participant found a database that belongs to another tenant:
# it is not ours, so rolling back must not drop it.
DATABASE_CONFLICT = "TENANT_DATABASE_CONFLICT"


@dataclass(frozen=True)
class ProvisioningPolicy:
    lease_seconds: float


class Provisioner:
    def __init__(
        self,
        db: DatabaseRouter,
        participants: LifecycleParticipants,
        events: EventBus,
        policy: ProvisioningPolicy,
    ) -> None:
        self._db = db
        self._participants = participants
        self._events = events
        self._policy = policy

    @property
    def step_names(self) -> tuple[str, ...]:
        return (DATABASE_STEP, *self._participants.names)

    async def provision(self, tenant_id: str) -> None:
        """Runs every pending step, then activates; on failure rolls back and raises Unavailable."""
        try:
            await self._run_steps(tenant_id)
        except Exception as exc:
            reason = reason_of(exc)
            log.warning("provisioning failed, rolling back", extra={"tenant_id": tenant_id, "reason": reason})
            await self.abandon(tenant_id, reason)
            raise Unavailable(
                "provisioning failed; it is rolled back", reason="PROVISIONING_FAILED", metadata={"cause": reason}
            ) from exc
        await self._events.publish(Event("tenant.created", tenant_id))

    async def abandon(self, tenant_id: str, reason: str) -> None:
        """Rolls a failed provisioning back; if the rollback fails too, the reconciler finishes it.

        The reason is recorded first, so a reconciler that takes the tenant
        over rolls it back rather than completing what the client was told
        had failed.
        """
        async with self._db.core_session() as session:
            await session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id, TenantRow.state == "PROVISIONING")
                .values(failure_reason=reason[:64])
            )
            await session.commit()
        try:
            await self.roll_back(tenant_id, reason)
        except Exception:
            log.exception("rollback incomplete; the reconciler will finish it", extra={"tenant_id": tenant_id})

    async def resume(self, tenant_id: str) -> None:
        """Continues a stalled provisioning: forward, or back if it had already failed."""
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
        if row is None or row.state != "PROVISIONING":
            return
        if row.failure_reason:
            await self.roll_back(tenant_id, row.failure_reason)
        else:
            await self.provision(tenant_id)

    async def _run_steps(self, tenant_id: str) -> None:
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
            if row is None or row.state != "PROVISIONING":
                return
            record = await repo.load_record(session, row)
        placement = _placement(row)
        done = {s.step for s in record.steps if s.state == "DONE"}
        if DATABASE_STEP not in done:
            # An existing database with no DONE step is ours from a crashed attempt,
            # or an orphan; the participants' identity check tells them apart.
            await self._db.create_tenant_database(placement)
            await self._mark(tenant_id, DATABASE_STEP, "DONE")
        for service in self._participants.names:
            if service not in done:
                version = await self._participants.provision(service, tenant_id, placement)
                await self._mark(tenant_id, service, "DONE", version)
        async with self._db.core_session() as session:
            await session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id, TenantRow.state == "PROVISIONING")
                .values(state="ACTIVE", lease_until=None, update_time=utcnow(), revision=TenantRow.revision + 1)
            )
            await session.commit()

    async def roll_back(self, tenant_id: str, reason: str) -> None:
        """Undoes whatever provisioning did and leaves a FAILED record whose slug is free again."""
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
            if row is None:
                return
            record = await repo.load_record(session, row)
        placement = _placement(row)
        done = [s.step for s in record.steps if s.state == "DONE" and s.step != DATABASE_STEP]
        for service in reversed(done):
            await self._participants.deprovision(service, tenant_id, placement)
        if reason != DATABASE_CONFLICT:
            await self._db.drop_tenant_database(placement)
        now = utcnow()
        async with self._db.core_session() as session:
            for step in record.steps:
                if step.state == "DONE" or step.step == DATABASE_STEP:
                    await repo.set_step(session, tenant_id, step.step, "FAILED", now)
            await session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id)
                .values(
                    state="FAILED",
                    slug=None,
                    failure_reason=reason[:64],
                    lease_until=None,
                    update_time=now,
                    revision=TenantRow.revision + 1,
                )
            )
            await session.commit()
        await self._events.publish(Event("tenant.failed", tenant_id, {"reason": reason}))

    async def purge(self, tenant_id: str) -> None:
        """Deprovisions every participant, drops the database and leaves a DELETED tombstone."""
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
            if row is None or row.state != "DELETING":
                return
        placement = _placement(row)
        try:
            for service in reversed(self._participants.names):
                await self._participants.deprovision(service, tenant_id, placement)
            await self._db.drop_tenant_database(placement)
        except Exception as exc:
            # The tenant stays DELETING; the reconciler retries once the lease runs out.
            raise Unavailable(
                "deleting the tenant is incomplete; it will be finished", reason="PURGE_INCOMPLETE"
            ) from exc
        now = utcnow()
        async with self._db.core_session() as session:
            await session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id, TenantRow.state == "DELETING")
                .values(
                    state="DELETED",
                    slug=None,
                    lease_until=None,
                    update_time=now,
                    delete_time=now,
                    revision=TenantRow.revision + 1,
                )
            )
            await session.commit()
        await self._events.publish(Event("tenant.deleted", tenant_id))

    async def _mark(self, tenant_id: str, step: str, state: str, schema_version: str | None = None) -> None:
        # Each finished step also renews the lease: the worker is demonstrably alive.
        async with self._db.core_session() as session:
            await repo.set_step(session, tenant_id, step, state, utcnow(), schema_version)
            await session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id)
                .values(lease_until=after(self._policy.lease_seconds))
            )
            await session.commit()


def _placement(row: TenantRow) -> TenantDatabase:
    return TenantDatabase(server=row.db_server, name=row.db_name)
