"""The transactional outbox: events are committed with the change they describe.

A producer's unit of work (:mod:`services.runtime.unit_of_work`) writes its
events in the transaction that makes the change, so both commit or neither
does; the relay then publishes committed events to the bus and deletes them.
If the process dies between commit and publish, the rows are still there and
the next relay (this process after a restart, or any other process) publishes
them: delivery is at least once, and consumers are idempotent on the event id.

The outbox table is shared infrastructure of the runtime, migrated with its
own version table; each row records which service produced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import DateTime, LargeBinary, MetaData, String, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.background import stop_background
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, MigrationSet
from services.runtime.events import Event, EventBus

log = logging.getLogger("tenantmesh.outbox")

OUTBOX_MIGRATIONS = MigrationSet(
    service="outbox", scope="core", directory=Path(__file__).parent / "migrations" / "outbox"
)


class _OutboxBase(DeclarativeBase):
    metadata = MetaData()


class OutboxRow(_OutboxBase):
    __tablename__ = "event_outbox"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[datetime] = mapped_column(DateTime)


def row_values(event: Event) -> dict[str, object]:
    """The outbox row of an event (see services.runtime.unit_of_work, which writes them)."""
    return {
        "event_id": event.id,
        "producer": event.producer,
        "event_type": event.type,
        "envelope": event.encode(),
        "create_time": utcnow(),
    }


class OutboxRelay:
    def __init__(self, db: DatabaseRouter, bus: EventBus, *, poll_seconds: float = 1.0, batch: int = 100) -> None:
        self._db = db
        self._bus = bus
        self._poll = poll_seconds
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Tells the relay that events were just committed (otherwise it polls)."""
        self._wake.set()

    async def relay_once(self) -> int:
        """Publishes one batch of committed events, oldest first; returns how many."""
        async with self._db.core_session() as session:
            rows = list(
                (await session.execute(select(OutboxRow).order_by(OutboxRow.event_id).limit(self._batch))).scalars()
            )
        # Published outside any transaction: handlers of the in-process bus write
        # to the database themselves, and must not wait on a lock held here.
        published = []
        for row in rows:
            await self._bus.publish(Event.decode(row.envelope))
            published.append(row.event_id)
        if published:
            async with self._db.core_session() as session:
                await session.execute(delete(OutboxRow).where(OutboxRow.event_id.in_(published)))
                await session.commit()
        return len(published)

    async def drain(self) -> None:
        while await self.relay_once() == self._batch:
            pass

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="outbox-relay")

    async def _loop(self) -> None:
        while True:
            # Cleared before draining: a notify() during the drain is not lost.
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("relaying events failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def stop(self) -> None:
        await stop_background(self._task)
        self._task = None
