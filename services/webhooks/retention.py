"""The delivery log's retention: entries older than the delivery queue's retention are deleted.

The queue forgets sent jobs after TENANTMESH_DELIVERY_RETENTION_DAYS; the log keeps an entry
(with its sealed body, for replays) just as long. Entries still being retried stay.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select

from services.runtime.background import Periodic
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.delivery import DeliveryRow, JobState
from services.webhooks.models import DeliveryLogRow

log = logging.getLogger("tenantmesh.webhooks")

_EVERY_SECONDS = 3600.0


class LogRetention:
    def __init__(self, db: DatabaseRouter, retention_days: float) -> None:
        self._db = db
        self._retention = timedelta(days=retention_days)
        self._periodic = Periodic("webhook-log-retention", self._purge_and_tell, _EVERY_SECONDS, log)

    async def purge_once(self) -> int:
        """Deletes the log entries older than the retention that are no longer pending; returns how many."""
        pending = select(DeliveryRow.job_id).where(DeliveryRow.state == JobState.PENDING)
        async with self._db.core_session() as session:
            result = await session.execute(
                delete(DeliveryLogRow)
                .where(DeliveryLogRow.create_time < utcnow() - self._retention)
                .where(DeliveryLogRow.job_id.not_in(pending))
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0))

    async def _purge_and_tell(self) -> None:
        purged = await self.purge_once()
        if purged:
            log.info("deleted %d webhook deliveries past their retention", purged)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
