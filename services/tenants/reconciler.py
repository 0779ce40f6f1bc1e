"""Finishes what a crashed worker left: tenants stuck in PROVISIONING or DELETING.

Runs at startup and then periodically. A tenant is taken over only when its
worker's lease has run out, and only by one reconciler (the claim is a
conditional update), so several replicas can run this safely.
"""

from __future__ import annotations

import asyncio
import logging

from services.runtime.background import stop_background
from services.runtime.clock import after, utcnow
from services.runtime.db import DatabaseRouter
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
            stalled = await repo.stalled_tenant_ids(session, (TenantState.PROVISIONING, TenantState.DELETING), utcnow())
        taken = 0
        for tenant_id in stalled:
            async with self._db.core_session() as session:
                row = await repo.get_row(session, tenant_id)
                if row is None or not await repo.claim(session, tenant_id, row.state, utcnow(), after(self._lease)):
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
