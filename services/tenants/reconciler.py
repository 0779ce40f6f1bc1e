"""Finishes what a crashed worker left: tenants stuck in PROVISIONING or DELETING.

Runs at startup and then periodically. A tenant is taken over only when its
worker's lease has run out, and only by one reconciler (the claim is a
conditional update), so several replicas can run this safely.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from services.runtime.background import stop_background
from services.runtime.db import DatabaseRouter, database_now
from services.tenants import repository as repo
from services.tenants.provisioning import Provisioner
from services.tenants.states import TenantState

log = logging.getLogger("tenantmesh.tenants.reconciler")


class Reconciler:
    def __init__(
        self, db: DatabaseRouter, provisioner: Provisioner, *, interval_seconds: float, lease_seconds: float
    ) -> None:
        self._db = db
        self._provisioner = provisioner
        self._interval = interval_seconds
        self._lease = lease_seconds
        self._task: asyncio.Task[None] | None = None

    async def reconcile_once(self) -> int:
        """Handles every stalled tenant once; returns how many it took over."""
        async with self._db.core_session() as session:
            # Leases are judged on the database's clock, on which they were written: a reconciler whose
            # clock runs ahead must not take over a tenant whose worker is alive.
            states = (TenantState.PROVISIONING, TenantState.DELETING)
            stalled = await repo.stalled_tenant_ids(session, states, await database_now(session))
        taken = 0
        for tenant_id in stalled:
            async with self._db.core_session() as session:
                row = await repo.get_row(session, tenant_id)
                now = await database_now(session)
                until = now + timedelta(seconds=self._lease)
                if row is None or not await repo.claim(session, tenant_id, row.state, now, until):
                    continue
                await session.commit()
            taken += 1
            log.info("resuming stalled tenant", extra={"tenant_id": tenant_id, "state": row.state})
            try:
                if row.state == TenantState.PROVISIONING:
                    await self._provisioner.resume(tenant_id)
                else:
                    await self._provisioner.purge(tenant_id)
            except Exception:
                # Left with an expired lease: the next round tries again.
                log.exception("could not finish stalled tenant", extra={"tenant_id": tenant_id})
        return taken

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tenant-reconciler")

    async def _loop(self) -> None:
        while True:
            try:
                await self.reconcile_once()
            except Exception:
                log.exception("reconciliation round failed")
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        await stop_background(self._task)
