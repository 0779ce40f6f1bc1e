"""The transactional outbox: events are committed with the change they describe.

A producer's unit of work (:mod:`services.runtime.unit_of_work`) writes its
events in the transaction that makes the change, so both commit or neither
does; the relay then publishes committed events to the bus and deletes them.
If the process dies between commit and publish, the rows are still there and
the next relay (this process after a restart, or any other process) publishes
them: delivery is at least once, and consumers are idempotent on the event id.

Changes to the core database write to the core ``event_outbox``. Changes to a
tenant database write to that database's own ``event_outbox`` (the same table,
created by :data:`TENANT_OUTBOX_MIGRATIONS`), because only a table in the same
database commits with the change. Before such a commit the unit of work marks
the tenant database in the core table ``event_outbox_tenants``; every relay
reads the marks with its core batch, drains the marked tenant outboxes and
clears a mark only if nobody marked it again meanwhile, so an event left by a
crash is found by any process without scanning every tenant.

A mark is a lease, not a per-transaction flag: one row per tenant database would
otherwise be updated by every writer of that tenant, and concurrent writers
would take its lock in turn (a busy tenant's submissions serialised on it). A
process renews a mark at most every :data:`MARK_RENEW_SECONDS` and relies on its
last renewal in between; a relay clears a mark only once it is older than
:data:`MARK_KEEP_SECONDS` (far longer than a renewal period plus a commit), so
every transaction that relied on it committed before the drain that clears it
read the outbox.

A producer in this process hands the relay the events it just committed
(``notify(events=...)``): the relay publishes them and deletes their rows by id
without reading the outbox back first, one DELETE for all the events committed
to an outbox since it last ran. What it was not handed (another process's
events, a crash's) it finds by reading the outbox, as every poll does.

The outbox tables are shared infrastructure of the runtime, migrated with
their own version tables; each row records which service produced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import DateTime, Integer, MetaData, String, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.background import stop_background
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, MigrationSet, TenantDatabase, database_now
from services.runtime.db.long_binary import LONG_BINARY
from services.runtime.events import Event, EventBus

log = logging.getLogger("tenantmesh.outbox")

_MIGRATIONS = Path(__file__).parent / "migrations"
OUTBOX_MIGRATIONS = MigrationSet(service="outbox", scope="core", directory=_MIGRATIONS / "outbox")
# The outbox of a tenant database, for services that announce changes made there.
TENANT_OUTBOX_MIGRATIONS = MigrationSet(service="outbox", scope="tenant", directory=_MIGRATIONS / "outbox_tenant")


class _OutboxBase(DeclarativeBase):
    metadata = MetaData()


class OutboxRow(_OutboxBase):
    """A row of the core outbox, or (in a tenant session) of a tenant database's outbox."""

    __tablename__ = "event_outbox"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    producer: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    # Past 64 KiB on MySQL/MariaDB too: an event may carry a service's configuration schema.
    envelope: Mapped[bytes] = mapped_column(LONG_BINARY)
    create_time: Mapped[datetime] = mapped_column(DateTime)


class TenantOutboxMark(_OutboxBase):
    """A tenant database whose outbox may hold events; ``version`` grows with every mark."""

    __tablename__ = "event_outbox_tenants"

    db_server: Mapped[str] = mapped_column(String(63), primary_key=True)
    db_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    mark_time: Mapped[datetime | None] = mapped_column(DateTime)


# A process renews its mark of a tenant outbox this often at most (see the module docstring) ...
MARK_RENEW_SECONDS = 10.0
# ... and a relay clears a mark only once it is this old: the renewal period, a commit and
# clock skew between processes fit many times into the difference.
MARK_KEEP_SECONDS = 60.0
_MEMO_LIMIT = 4096  # renewal times remembered per process before expired ones are dropped


def row_values(event: Event) -> dict[str, object]:
    """The outbox row of an event (see services.runtime.unit_of_work, which writes them)."""
    return {
        "event_id": event.id,
        "producer": event.producer,
        "event_type": event.type,
        "envelope": event.encode(),
        "create_time": utcnow(),
    }


# Events handed over and not yet relayed that the relay keeps per outbox (see notify).
_HELD_LIMIT = 1000
_OLDEST = select(OutboxRow.event_id, OutboxRow.envelope, OutboxRow.create_time).order_by(OutboxRow.event_id)
_DELETE = delete(OutboxRow).where(OutboxRow.event_id.in_(bindparam("event_ids", expanding=True)))
_BUMP_MARK = update(TenantOutboxMark).values(version=TenantOutboxMark.version + 1)
_INSERT_MARK = insert(TenantOutboxMark)


class TenantOutboxMarks:
    """This process's marks of tenant outboxes: renewed in the core database at most every
    ``renew_seconds`` per tenant database (0: before every transaction)."""

    def __init__(self, db: DatabaseRouter, renew_seconds: float = MARK_RENEW_SECONDS) -> None:
        self._db = db
        self._renew = renew_seconds
        self._renewed: dict[tuple[str, str], float] = {}

    async def mark(self, tenant: TenantDatabase) -> None:
        """Makes sure ``tenant``'s outbox is marked before a transaction that writes to it commits."""
        key = (tenant.server, tenant.name)
        started = time.monotonic()
        if started - self._renewed.get(key, -math.inf) < self._renew:
            return
        await mark_tenant_outbox(self._db, tenant)
        if len(self._renewed) >= _MEMO_LIMIT:
            self._renewed = {k: t for k, t in self._renewed.items() if started - t < self._renew}
        # From before the renewal: the lease is counted from no later than the mark's own time.
        self._renewed[key] = started


async def mark_tenant_outbox(db: DatabaseRouter, tenant: TenantDatabase) -> None:
    """Records, committed at once, that ``tenant``'s outbox is about to hold events."""
    where = (TenantOutboxMark.db_server == tenant.server, TenantOutboxMark.db_name == tenant.name)
    async with db.core_autocommit() as conn:
        # On the database's clock, which the relays that clear marks judge them by: a relay whose
        # clock runs ahead would otherwise clear a mark a writer still relies on.
        now = await database_now(conn)
        if (await conn.execute(_BUMP_MARK.values(mark_time=now).where(*where))).rowcount == 1:
            return
        try:
            await conn.execute(
                _INSERT_MARK, {"db_server": tenant.server, "db_name": tenant.name, "version": 1, "mark_time": now}
            )
        except IntegrityError:
            # Marked concurrently by someone else: bump it, so their relay does not clear ours.
            await conn.execute(_BUMP_MARK.values(mark_time=now).where(*where))


class TenantBacklog:
    """The tenant outboxes this relay's last drain of each left events in, with the commit time of
    the oldest it saw: what the metrics report of tenant outboxes without reading any of them (one
    per tenant database). A drain that publishes everything removes its outbox; one that fails
    records the oldest row it read, or, when it could not read the outbox at all, keeps what it
    knew (else counts from now: a lower bound of the age)."""

    def __init__(self) -> None:
        self._oldest: dict[TenantDatabase, datetime] = {}

    def drained(self, tenant: TenantDatabase) -> None:
        self._oldest.pop(tenant, None)

    def left(self, tenant: TenantDatabase, oldest: datetime | None) -> None:
        if oldest is not None:
            self._oldest[tenant] = oldest
        else:
            self._oldest.setdefault(tenant, utcnow())

    def keep_marked(self, marked: set[TenantDatabase]) -> None:
        """Forgets outboxes no longer marked: another relay drained them (a mark outlives its events)."""
        self._oldest = {tenant: oldest for tenant, oldest in self._oldest.items() if tenant in marked}

    def summary(self) -> tuple[int, datetime | None]:
        """How many tenant outboxes hold unrelayed events, and when the oldest of them was committed."""
        return len(self._oldest), min(self._oldest.values(), default=None)


class OutboxRelay:
    def __init__(
        self,
        db: DatabaseRouter,
        bus: EventBus,
        *,
        poll_seconds: float = 1.0,
        batch: int = 100,
        mark_keep_seconds: float = MARK_KEEP_SECONDS,
    ) -> None:
        self._db = db
        self._mark_keep = mark_keep_seconds
        self._bus = bus
        self._poll = poll_seconds
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Every poll period the core outbox and every marked tenant outbox are drained; in between,
        # only the outboxes this process was told about (a busy tenant's writes cost no look at
        # the core database's outbox and marks, nor at other tenants').
        self._core_due = False
        self._due_tenants: set[TenantDatabase] = set()
        # Events committed in this process and handed over, by outbox (None: the core one).
        self._committed: dict[TenantDatabase | None, list[Event]] = {}
        self._polled = -math.inf
        self.tenant_backlog = TenantBacklog()

    def notify(self, *, tenant: TenantDatabase | None = None, events: Sequence[Event] = ()) -> None:
        """Tells the relay that events were just committed (otherwise it polls): to the core outbox,
        or to ``tenant``'s. Given ``events``, the relay publishes exactly those (see the module
        docstring); without them, it reads the outbox."""
        # Kept only while the relay runs, and only so many: beyond that the outbox is read instead.
        held = self._committed.setdefault(tenant, []) if events and self._task is not None else None
        if held is not None and len(held) + len(events) <= _HELD_LIMIT:
            held.extend(events)
        else:
            self._mark_due(tenant)
        self._wake.set()

    def _mark_due(self, outbox: TenantDatabase | None) -> None:
        if outbox is None:
            self._core_due = True
        else:
            self._due_tenants.add(outbox)

    async def relay_once(self) -> int:
        """Publishes one batch of the core outbox's committed events, oldest first; returns how many."""
        return await self._relay_batch(None)

    async def relay_tenants_once(self) -> int:
        """Drains the outbox of every marked tenant database; returns how many events it published."""
        async with self._db.core_session() as session:
            marks = list((await session.execute(select(TenantOutboxMark))).scalars())
            # Before any drain reads its outbox, on the clock the marks were written by.
            drained_from = await database_now(session)
        self.tenant_backlog.keep_marked({TenantDatabase(server=m.db_server, name=m.db_name) for m in marks})
        published = 0
        for mark in marks:
            try:
                published += await self._drain_tenant(mark, drained_from)
            except Exception:
                # One tenant's outbox that cannot be read (its server down, its schema damaged)
                # must not hold up every tenant marked after it; its mark stays for the next poll.
                log.exception(
                    "relaying a tenant outbox failed; retrying at the next poll", extra={"outbox": mark.db_name}
                )
        return published

    async def _drain_tenant(self, mark: TenantOutboxMark, drained_from: datetime) -> int:
        published = 0
        gone = False
        try:
            published = await self._drain_outbox(TenantDatabase(server=mark.db_server, name=mark.db_name))
        except Exception:
            if await self._tenant_exists(mark):
                raise
            # The tenant database is gone (the tenant was purged): so are its events.
            gone = True
            self.tenant_backlog.drained(TenantDatabase(server=mark.db_server, name=mark.db_name))
        # Cleared only if nobody marked it again while it was drained (their events may not have
        # been committed yet when this drain read the outbox), and only once its lease is over.
        expired = mark.mark_time is None or mark.mark_time <= drained_from - timedelta(seconds=self._mark_keep)
        if gone or expired:
            async with self._db.core_session() as session:
                await session.execute(
                    delete(TenantOutboxMark).where(
                        TenantOutboxMark.db_server == mark.db_server,
                        TenantOutboxMark.db_name == mark.db_name,
                        TenantOutboxMark.version == mark.version,
                    )
                )
                await session.commit()
        return published

    async def _drain_outbox(self, tenant: TenantDatabase) -> int:
        published = 0
        try:
            while True:
                count = await self._relay_batch(tenant)
                published += count
                if count < self._batch:
                    self.tenant_backlog.drained(tenant)
                    return published
        except Exception:
            self.tenant_backlog.left(tenant, None)  # a failed batch recorded its oldest row already
            raise

    async def _drain_due(self, tenant: TenantDatabase) -> None:
        try:
            await self._drain_outbox(tenant)
        except Exception:
            # Missed here, its events are found by the next poll through its mark; the other due
            # tenants are drained meanwhile.
            log.exception("relaying a tenant outbox failed; retrying at the next poll", extra={"outbox": tenant.name})

    async def _tenant_exists(self, mark: TenantOutboxMark) -> bool:
        try:
            return await self._db.tenant_database_exists(TenantDatabase(server=mark.db_server, name=mark.db_name))
        except (ValueError, LookupError):
            return False  # not a tenant database of this platform (any more): nothing to relay

    async def _relay_batch(self, outbox: TenantDatabase | None) -> int:
        """Publishes and deletes the oldest events of ``outbox`` (None: the core one); returns how many."""
        async with self._connection(outbox) as conn:
            rows = (await conn.execute(_OLDEST.limit(self._batch))).all()
        try:
            # Published outside any transaction: handlers of the in-process bus write
            # to the database themselves, and must not wait on a lock held here.
            await self._publish(
                [event for event_id, envelope, _ in rows if (event := _decoded(event_id, envelope, outbox))]
            )
            await self._delete(outbox, [event_id for event_id, _, _ in rows])
        except Exception:
            if outbox is not None:
                # Read oldest first (ids are time-ordered): the first row is the oldest left.
                self.tenant_backlog.left(outbox, rows[0].create_time)
            raise
        return len(rows)

    async def _relay_committed(self, outbox: TenantDatabase | None, events: list[Event]) -> None:
        """Publishes events this process committed to ``outbox`` and deletes their rows; if that
        fails, the outbox is read again at the next poll (its rows are still there)."""
        try:
            await self._publish(events)
            await self._delete(outbox, [event.id for event in events])
        except Exception:
            log.exception("relaying committed events failed; reading their outbox again at the next poll")
            self._mark_due(outbox)

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            # In the trace of the transaction that wrote it (stored with it).
            with self._bus.telemetry.publishing(event, "events"):
                await self._bus.publish(event)

    async def _delete(self, outbox: TenantDatabase | None, event_ids: list[str]) -> None:
        for start in range(0, len(event_ids), self._batch):
            async with self._connection(outbox) as conn:
                await conn.execute(_DELETE, {"event_ids": event_ids[start : start + self._batch]})
                await conn.commit()

    def _connection(self, outbox: TenantDatabase | None) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._db.core_transaction() if outbox is None else self._db.tenant_transaction(outbox)

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many events the core outbox holds, and when the oldest was committed."""
        async with self._db.core_session() as session:
            count, oldest = (
                await session.execute(select(func.count(), func.min(OutboxRow.create_time)).select_from(OutboxRow))
            ).one()
        return int(count), oldest

    async def drain(self, *, tenants: bool = True) -> None:
        while await self.relay_once() == self._batch:
            pass
        if tenants:
            await self.relay_tenants_once()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="outbox-relay")

    async def _loop(self) -> None:
        while True:
            # Cleared before draining: a notify() during the drain is not lost.
            self._wake.clear()
            now = time.monotonic()
            polling = now - self._polled >= self._poll
            if polling:
                self._polled = now
            core, self._core_due = self._core_due or polling, False
            due, self._due_tenants = self._due_tenants, set()
            # Before any read of an outbox: events handed over are deleted by then, not read twice.
            committed, self._committed = self._committed, {}
            for outbox, events in committed.items():
                await self._relay_committed(outbox, events)
            try:
                if core:
                    await self.drain(tenants=False)
            except Exception:
                log.exception("relaying events failed; retrying")
            try:
                # Even when the core outbox failed (the bus down, say): the tenant outboxes are
                # still drained, or at least seen, and their backlog reported (TenantBacklog).
                if polling:
                    await self.relay_tenants_once()
            except Exception:
                log.exception("relaying tenant outboxes failed; retrying")
            for tenant in due:
                await self._drain_due(tenant)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def stop(self) -> None:
        await stop_background(self._task)
        self._task = None


def _decoded(event_id: str, envelope: bytes, outbox: TenantDatabase | None) -> Event | None:
    """The row's event, or None for a row that does not decode (written damaged): it is logged and
    deleted with the batch, since kept it would stop its outbox relaying anything ever again."""
    try:
        return Event.decode(envelope)
    except Exception:  # whatever the parser raises
        where = "core" if outbox is None else outbox.name
        log.error(
            "outbox row does not decode; dropped",
            extra={"event_id": event_id, "outbox": where, "bytes": len(envelope)},
        )
        return None
