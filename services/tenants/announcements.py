"""How the tenants service announces tenant changes.

Each event is written to the outbox in the transaction that makes the change,
so no change goes unannounced even if the process dies right after the
commit. Once committed, the event is also handed to the bus directly: this
process's caches (and, on Redis, everyone's) learn of it before the call
returns, instead of a relay tick later. The relay then delivers it again;
subscribers are idempotent on the event id.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.runtime import outbox
from services.runtime.events import Event, EventBus

PRODUCER = "tenants"


class TenantAnnouncements:
    def __init__(self, bus: EventBus, committed: Callable[[], None]) -> None:
        self._bus = bus
        self._committed = committed

    def record(self, session: AsyncSession, event: Event) -> None:
        outbox.add(session, event, PRODUCER)

    async def record_on_connection(self, conn: AsyncConnection, event: Event) -> None:
        await outbox.add_on_connection(conn, event, PRODUCER)

    async def published(self, event: Event) -> None:
        """After the commit: wake the relay, and deliver at once."""
        self._committed()
        await self._bus.publish(event)
