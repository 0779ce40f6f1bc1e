"""One way to change data and announce it: a transaction that carries its events.

Domain code opens a unit of work, makes its change and ``emit``s what changed;
on leaving the block the events are written to the outbox in the same commit
as the change (both happen or neither does), and the relay is woken to publish
them at once instead of at its next poll::

    async with self._work.core() as work:
        work.session.add(row)
        work.emit(Event("thing.created", tenant_id, payload))

A block that raises commits nothing and announces nothing. ``core()`` is an ORM
session on the core database, ``core_connection()`` a Core connection (for hot
paths built from prepared statements), ``tenant()`` an ORM session on the call's
tenant database (its events go to that database's own outbox, which the
service's lifecycle creates: ``SchemaLifecycleServicer(tenant_events=True)``),
``tenant_connection()`` a Core connection there, ``emit()`` a transaction of
events alone. The relay is handed the committed events themselves, so it
publishes them without reading them back (services.runtime.outbox). A producer
whose events other processes' caches must see before the call returns (the
tenants service: a suspension must bite at once) also hands them to the bus
straight after the commit; the relay delivers them again with the same id, and
subscribers are idempotent on it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.runtime.context import current_tenant
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.events import Event, EventBus
from services.runtime.outbox import MARK_RENEW_SECONDS, OutboxRelay, OutboxRow, TenantOutboxMarks, row_values
from services.runtime.tenant_db import pin_to_primary

_INSERT_OUTBOX = insert(OutboxRow)


log = logging.getLogger("tenantmesh.unit_of_work")


@dataclass
class _Changes:
    producer: str
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Announces ``event`` with the commit of this unit of work (never if it fails)."""
        self.events.append(dataclasses.replace(event, producer=self.producer))


@dataclass
class SessionWork(_Changes):
    session: AsyncSession = field(kw_only=True)


@dataclass
class ConnectionWork(_Changes):
    conn: AsyncConnection = field(kw_only=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session in this unit's transaction, for code written against sessions: what it
        changes is flushed on leaving the block, and the unit of work commits it with the rest."""
        # The unit's transaction, begun here if nothing ran yet (a session that began it would end
        # it on closing); rollback_only: the session never commits nor closes it.
        if not self.conn.in_transaction():
            await self.conn.begin()
        session = AsyncSession(bind=self.conn, expire_on_commit=False, join_transaction_mode="rollback_only")
        try:
            yield session
            await session.flush()
        finally:
            await session.close()


class UnitOfWork:
    """Opens transactions whose events go out with their commit; one per producing service."""

    def __init__(
        self,
        db: DatabaseRouter,
        producer: str,
        *,
        relay: OutboxRelay | None = None,
        deliver_to: EventBus | None = None,
        mark_renew_seconds: float = MARK_RENEW_SECONDS,
    ) -> None:
        self._db = db
        self._marks = TenantOutboxMarks(db, mark_renew_seconds)
        self.producer = producer
        self._relay = relay
        # Also delivered straight after the commit (see the module docstring).
        self._deliver_to = deliver_to

    @asynccontextmanager
    async def core(self) -> AsyncIterator[SessionWork]:
        """An ORM session on the core database, committed with its events on leaving the block."""
        async with self._db.core_session() as session:
            work = SessionWork(self.producer, session=session)
            yield work
            if work.events:
                await _write_events(await session.connection(), work.events)
            await session.commit()
        await self._committed(work.events)

    @asynccontextmanager
    async def core_connection(self) -> AsyncIterator[ConnectionWork]:
        """A Core connection on the core database, committed with its events on leaving the block."""
        async with self._db.core_transaction() as conn:
            work = ConnectionWork(self.producer, conn=conn)
            yield work
            await _write_events(conn, work.events)
            await conn.commit()
        await self._committed(work.events)

    @asynccontextmanager
    async def tenant(self, db: TenantDatabase | None = None) -> AsyncIterator[SessionWork]:
        """An ORM session on a tenant database (by default the current call's tenant's), committed
        with its events, which go to that database's own outbox (services.runtime.outbox)."""
        where = db if db is not None else current_tenant().database
        async with self._db.tenant_session(where) as session:
            work = SessionWork(self.producer, session=session)
            yield work
            if work.events:
                await self._write_tenant_events(where, await session.connection(), work.events)
            await session.commit()
        await self._tenant_committed(where, work.events)

    @asynccontextmanager
    async def tenant_connection(self, db: TenantDatabase | None = None) -> AsyncIterator[ConnectionWork]:
        """A Core connection on a tenant database (by default the current call's tenant's), committed
        with its events like ``tenant()``'s: for hot paths built from prepared statements."""
        where = db if db is not None else current_tenant().database
        async with self._db.tenant_transaction(where) as conn:
            work = ConnectionWork(self.producer, conn=conn)
            yield work
            await self._write_tenant_events(where, conn, work.events)
            await conn.commit()
        await self._tenant_committed(where, work.events)

    async def _write_tenant_events(self, db: TenantDatabase, conn: AsyncConnection, events: list[Event]) -> None:
        if events:
            # Marked before the commit: whoever relays next finds this outbox, also if this
            # process dies between the commit and its own relay (a lease renewed every few
            # seconds, not a write per transaction: services.runtime.outbox).
            await self._marks.mark(db)
            await _write_events(conn, events)

    async def _tenant_committed(self, db: TenantDatabase, events: list[Event]) -> None:
        # The writer reads their write back from the primary, not from a lagging replica.
        await pin_to_primary(self._db, db)
        await self._committed(events, tenant=db)

    async def emit(self, *events: Event) -> None:
        """Announces events that go with no other change (a transaction of their own)."""
        async with self.core_connection() as work:
            for event in events:
                work.emit(event)

    async def _committed(self, events: list[Event], *, tenant: TenantDatabase | None = None) -> None:
        if not events:
            return
        if self._relay is not None:
            self._relay.notify(tenant=tenant, events=events)
        if self._deliver_to is not None:
            try:
                for event in events:
                    await self._deliver_to.publish(event)
            except Exception:
                # Committed, and in the outbox: the relay delivers them once the bus is back. A
                # caller must not be told its committed change failed (while Redis was down,
                # provisioning took this for a failure and rolled an ACTIVE tenant back).
                log.warning("events committed but not handed to the bus; the relay will deliver them", exc_info=True)


async def _write_events(conn: AsyncConnection, events: list[Event]) -> None:
    """Into the outbox of ``conn``'s database, in its transaction (one statement, as plain rows)."""
    if events:
        await conn.execute(_INSERT_OUTBOX, [row_values(event) for event in events])
