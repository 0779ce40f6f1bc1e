"""The unit of work (services/runtime/unit_of_work.py): a change and its events commit together or not at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from services.runtime import clock
from services.runtime.clock import utcnow
from services.runtime.db import (
    DatabaseRouter,
    TenantDatabase,
    database_now,
    tenant_database_name,
    upgrade_core,
    upgrade_tenant,
)
from services.runtime.events import Event, InProcessEventBus, RedisStreamsEventBus, StreamSettings
from services.runtime.outbox import (
    OUTBOX_MIGRATIONS,
    TENANT_OUTBOX_MIGRATIONS,
    OutboxRelay,
    OutboxRow,
    TenantOutboxMark,
)
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.probes import outbox_probe
from services.runtime.unit_of_work import UnitOfWork
from tests.support.mesh import RUN_TENANT_DB_PREFIX
from tests.support.own_redis import own_redis
from tests.support.registry import eventually

# In tenant sessions only statements built from tables are routed to the tenant database (raw SQL
# is not, see DatabaseRouter), as a service's models would be.
THINGS = Table("uow_things", MetaData(), Column("name", String(40), primary_key=True))


@pytest.fixture
async def router(db_backend_url: str, tmp_path: Path) -> AsyncIterator[DatabaseRouter]:
    db = DatabaseRouter(db_backend_url, sqlite_dir=tmp_path)
    await db.start()
    await upgrade_core(db, OUTBOX_MIGRATIONS)
    async with db.core_connection() as conn:
        await conn.execute(text("CREATE TABLE uow_things (name VARCHAR(40) PRIMARY KEY)"))
        await conn.commit()
    try:
        yield db
    finally:
        await db.dispose()


async def outbox_events(db: DatabaseRouter) -> list[tuple[str, str, str]]:
    async with db.core_session() as session:
        rows = (await session.execute(select(OutboxRow).order_by(OutboxRow.event_id))).scalars()
        return [(row.event_type, row.producer, Event.decode(row.envelope).producer) for row in rows]


async def things(db: DatabaseRouter) -> int:
    async with db.core_connection() as conn:
        return int((await conn.execute(text("SELECT COUNT(*) FROM uow_things"))).scalar_one())


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


async def test_the_change_and_its_events_commit_together(router: DatabaseRouter) -> None:
    work = UnitOfWork(router, "things")
    async with work.core() as unit:
        await unit.session.execute(text("INSERT INTO uow_things (name) VALUES ('a')"))
        unit.emit(Event("thing.created", None, {"name": "a"}))
    async with work.core_connection() as unit:
        await unit.conn.execute(text("INSERT INTO uow_things (name) VALUES ('b')"))
        unit.emit(Event("thing.created", None, {"name": "b"}))
    assert await things(router) == 2
    # Every event carries its producer, in the row and in the envelope.
    assert await outbox_events(router) == [("thing.created", "things", "things")] * 2


def listening(db: DatabaseRouter) -> tuple[OutboxRelay, InProcessEventBus, Recorder]:
    """A relay (not started: relayed by hand) and a bus with a recorder of every event on it."""
    bus = InProcessEventBus()
    received = Recorder()
    bus.subscribe("", received)
    return OutboxRelay(db, bus, poll_seconds=3600, mark_keep_seconds=0), bus, received


@pytest.mark.parametrize("variant", ["core", "core_connection"])
async def test_a_failed_change_announces_nothing(router: DatabaseRouter, variant: str) -> None:
    # With a relay and delivery at once, as producers run: neither the after-commit path nor the
    # outbox may let out an event of a change that was rolled back.
    relay, bus, received = listening(router)
    work = UnitOfWork(router, "things", relay=relay, deliver_to=bus)

    async def change() -> None:
        async with getattr(work, variant)() as unit:
            run = unit.session.execute if variant == "core" else unit.conn.execute
            await run(text("INSERT INTO uow_things (name) VALUES ('a')"))
            unit.emit(Event("thing.created", None))
            raise RuntimeError("the change fails after writing")

    with pytest.raises(RuntimeError):
        await change()
    assert await things(router) == 0
    assert await outbox_events(router) == []
    assert received.events == []
    assert await relay.relay_once() == 0
    assert received.events == []


async def test_a_commit_that_fails_announces_nothing(router: DatabaseRouter) -> None:
    work = UnitOfWork(router, "things")
    async with work.core() as unit:
        await unit.session.execute(text("INSERT INTO uow_things (name) VALUES ('a')"))

    async def duplicate() -> None:
        async with work.core() as unit:
            await unit.session.execute(text("INSERT INTO uow_things (name) VALUES ('a')"))
            unit.emit(Event("thing.created", None))

    with pytest.raises(IntegrityError):
        await duplicate()
    assert await outbox_events(router) == []


async def test_the_relay_is_woken_and_delivery_at_once_keeps_the_event_id(router: DatabaseRouter) -> None:
    bus = InProcessEventBus()
    received = Recorder()
    bus.subscribe("thing.", received)
    relay = OutboxRelay(router, bus, poll_seconds=3600)
    work = UnitOfWork(router, "things", relay=relay, deliver_to=bus)
    await work.emit(Event("thing.created", None))
    # Delivered straight after the commit, before any relay ran ...
    assert [e.type for e in received.events] == ["thing.created"]
    # ... and the outbox still holds it for everyone else, under the same id.
    assert await relay.relay_once() == 1
    assert [e.id for e in received.events] == [received.events[0].id] * 2
    async with router.core_session() as session:
        assert (await session.execute(select(func.count()).select_from(OutboxRow))).scalar_one() == 0


# --------------------------------------------------------------------------- tenant databases


@pytest.fixture
async def tenant_db(db_backend_url: str, tmp_path: Path) -> AsyncIterator[tuple[DatabaseRouter, TenantDatabase]]:
    """A router and one tenant database holding the tenant outbox and a table of things."""
    db = DatabaseRouter(db_backend_url, sqlite_dir=tmp_path, tenant_db_prefix=RUN_TENANT_DB_PREFIX)
    await db.start()
    await upgrade_core(db, OUTBOX_MIGRATIONS)
    tenant = TenantDatabase("default", tenant_database_name(f"uow-{uuid.uuid4().hex[:10]}", RUN_TENANT_DB_PREFIX))
    await db.create_tenant_database(tenant)
    await upgrade_tenant(db, tenant, TENANT_OUTBOX_MIGRATIONS)
    async with db.tenant_connection(tenant) as conn:
        await conn.execute(text("CREATE TABLE uow_things (name VARCHAR(40) PRIMARY KEY)"))
        await conn.commit()
    try:
        yield db, tenant
    finally:
        await db.drop_tenant_database(tenant)
        await db.dispose()


async def tenant_things(db: DatabaseRouter, tenant: TenantDatabase) -> int:
    async with db.tenant_connection(tenant) as conn:
        return int((await conn.execute(text("SELECT COUNT(*) FROM uow_things"))).scalar_one())


async def tenant_outbox(db: DatabaseRouter, tenant: TenantDatabase) -> list[str]:
    async with db.tenant_session(tenant) as session:
        return [row.event_type for row in (await session.execute(select(OutboxRow))).scalars()]


async def marks(db: DatabaseRouter) -> list[tuple[str, int]]:
    async with db.core_session() as session:
        return [(m.db_name, m.version) for m in (await session.execute(select(TenantOutboxMark))).scalars()]


async def test_a_tenant_change_and_its_events_commit_together_and_are_relayed(
    tenant_db: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    db, tenant = tenant_db
    bus = InProcessEventBus()
    received = Recorder()
    bus.subscribe("thing.", received)
    relay = OutboxRelay(db, bus, poll_seconds=3600, mark_keep_seconds=0)
    work = UnitOfWork(db, "things", relay=relay)
    async with work.tenant(tenant) as unit:
        await unit.session.execute(insert(THINGS).values(name="a"))
        unit.emit(Event("thing.created", "t-1"))
    # In the tenant database, not the core one; the tenant database is marked for relaying.
    assert await tenant_things(db, tenant) == 1
    assert await tenant_outbox(db, tenant) == ["thing.created"]
    assert await outbox_events(db) == []
    assert await marks(db) == [(tenant.name, 1)]
    assert await relay.relay_tenants_once() == 1
    assert [(e.type, e.producer) for e in received.events] == [("thing.created", "things")]
    assert await tenant_outbox(db, tenant) == []
    assert await marks(db) == []


@pytest.mark.parametrize("variant", ["tenant", "tenant_connection"])
async def test_a_failed_tenant_change_announces_nothing(
    tenant_db: tuple[DatabaseRouter, TenantDatabase], variant: str
) -> None:
    db, tenant = tenant_db
    relay, bus, received = listening(db)
    work = UnitOfWork(db, "things", relay=relay, deliver_to=bus)

    async def change() -> None:
        async with getattr(work, variant)(tenant) as unit:
            run = unit.session.execute if variant == "tenant" else unit.conn.execute
            await run(insert(THINGS).values(name="a"))
            unit.emit(Event("thing.created", "t-1"))
            raise RuntimeError("the change fails after writing")

    with pytest.raises(RuntimeError):
        await change()
    assert await tenant_things(db, tenant) == 0
    assert await tenant_outbox(db, tenant) == []
    assert await marks(db) == []
    assert received.events == []
    assert await relay.relay_tenants_once() == 0
    assert await relay.relay_once() == 0
    assert received.events == []


async def test_a_tenant_connection_commits_its_change_and_events_together(
    tenant_db: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    db, tenant = tenant_db
    work = UnitOfWork(db, "things")
    async with work.tenant_connection(tenant) as unit:
        # Code written against sessions joins the unit's transaction (and commits with it), also
        # as the first thing the unit does.
        async with unit.session() as session:
            await session.execute(insert(THINGS).values(name="a"))
        await unit.conn.execute(insert(THINGS).values(name="b"))
        async with unit.session() as session:
            await session.execute(insert(THINGS).values(name="c"))
        unit.emit(Event("thing.created", "t-1"))
    assert await tenant_things(db, tenant) == 3
    assert await tenant_outbox(db, tenant) == ["thing.created"]
    assert await marks(db) == [(tenant.name, 1)]


async def test_the_relay_publishes_the_events_handed_to_it_without_reading_the_outbox(
    tenant_db: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    db, tenant = tenant_db
    bus = InProcessEventBus()
    received = Recorder()
    bus.subscribe("thing.", received)
    relay = OutboxRelay(db, bus, poll_seconds=3600)
    relay.start()
    try:
        await asyncio.sleep(0.2)  # its first poll is over; it now waits for a notify
        # Another process's event, committed without telling this relay: left to the polls.
        async with UnitOfWork(db, "elsewhere").tenant(tenant) as unit:
            unit.emit(Event("thing.elsewhere", "t-1"))
        work = UnitOfWork(db, "things", relay=relay)
        for name in ("a", "b"):
            async with work.tenant_connection(tenant) as unit:
                await unit.conn.execute(insert(THINGS).values(name=name))
                unit.emit(Event("thing.created", "t-1", {"name": name}))
        for _ in range(100):
            if len(received.events) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
    assert [e.payload_dict()["name"] for e in received.events] == ["a", "b"]
    assert await tenant_outbox(db, tenant) == ["thing.elsewhere"]
    # What it was not handed, a read of the outbox finds.
    await relay.relay_tenants_once()
    assert [e.type for e in received.events][-1] == "thing.elsewhere"
    assert await tenant_outbox(db, tenant) == []


async def test_tenant_events_left_by_a_crash_are_found_by_any_relay(
    tenant_db: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    db, tenant = tenant_db
    # The producer commits and dies before its relay runs (it has none here).
    async with UnitOfWork(db, "things").tenant(tenant) as unit:
        unit.emit(Event("thing.created", "t-1"))
    bus = InProcessEventBus()
    received = Recorder()
    bus.subscribe("thing.", received)
    # Another process's relay, polling: it knows nothing but the mark.
    await OutboxRelay(db, bus).drain()
    assert [e.type for e in received.events] == ["thing.created"]
    # The mark is a lease: kept until it is older than a relay's keep period.
    assert await marks(db) == [(tenant.name, 1)]
    await OutboxRelay(db, bus, mark_keep_seconds=0).drain()
    assert await marks(db) == []
    assert len(received.events) == 1


async def test_writers_rely_on_a_renewed_mark_instead_of_each_writing_it(
    tenant_db: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    db, tenant = tenant_db
    work = UnitOfWork(db, "things")
    for name in ("a", "b", "c"):
        async with work.tenant(tenant) as unit:
            await unit.session.execute(insert(THINGS).values(name=name))
            unit.emit(Event("thing.created", "t-1"))
    # One mark for the three transactions: concurrent writers of a tenant do not queue on its row.
    assert await marks(db) == [(tenant.name, 1)]
    bus = InProcessEventBus()
    received = Recorder()
    bus.subscribe("thing.", received)
    relay = OutboxRelay(db, bus)
    assert await relay.relay_tenants_once() == 3
    # Within its lease the mark stays: a writer of this process may still rely on it.
    assert await marks(db) == [(tenant.name, 1)]
    async with work.tenant(tenant) as unit:
        unit.emit(Event("thing.created", "t-1"))
    assert await relay.relay_tenants_once() == 1
    assert len(received.events) == 4
    # Once nobody renewed it for longer than the keep period, the drain that finds it clears it.
    async with db.core_session() as session:
        await session.execute(update(TenantOutboxMark).values(mark_time=utcnow() - timedelta(minutes=5)))
        await session.commit()
    assert await relay.relay_tenants_once() == 0
    assert await marks(db) == []


async def test_a_mark_made_while_draining_is_kept(tenant_db: tuple[DatabaseRouter, TenantDatabase]) -> None:
    db, tenant = tenant_db
    async with UnitOfWork(db, "things").tenant(tenant) as unit:
        unit.emit(Event("thing.created", "t-1"))
    relay = OutboxRelay(db, InProcessEventBus(), mark_keep_seconds=0)
    async with db.core_session() as session:
        [seen] = list((await session.execute(select(TenantOutboxMark))).scalars())
    # Another producer (process) marks the outbox again after this relay read the mark.
    async with UnitOfWork(db, "things").tenant(tenant) as unit:
        unit.emit(Event("thing.created", "t-1"))
    async with db.core_session() as session:
        now = await database_now(session)
    await relay._drain_tenant(seen, now)
    assert await marks(db) == [(tenant.name, 2)]


async def test_a_mark_outlives_a_two_minute_clock_skew(
    tenant_db: tuple[DatabaseRouter, TenantDatabase], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Marks are written and judged on the database's clock: one written by a process 2 minutes
    # behind is still within its keep period (60 s) for a relay with a right clock, or 2 minutes ahead.
    db, tenant = tenant_db
    monkeypatch.setattr(clock, "_OFFSET", timedelta(minutes=-2))
    async with UnitOfWork(db, "things").tenant(tenant) as unit:
        unit.emit(Event("thing.created", "t-1"))
    for relay_offset in (timedelta(0), timedelta(minutes=2)):
        monkeypatch.setattr(clock, "_OFFSET", relay_offset)
        await OutboxRelay(db, InProcessEventBus()).relay_tenants_once()
        assert await marks(db) == [(tenant.name, 1)]


async def test_the_mark_of_a_dropped_tenant_database_is_cleared(
    tenant_db: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    db, tenant = tenant_db
    async with UnitOfWork(db, "things").tenant(tenant) as unit:
        unit.emit(Event("thing.created", "t-1"))
    await db.drop_tenant_database(tenant)
    assert await OutboxRelay(db, InProcessEventBus()).relay_tenants_once() == 0
    assert await marks(db) == []
    await db.create_tenant_database(tenant)  # for the fixture's teardown


async def test_one_tenant_outbox_that_fails_does_not_hold_up_the_others(
    tenant_db: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    # A tenant database whose outbox cannot be read (its server down, its schema damaged) used to
    # end the relay's pass over the marks: every tenant marked after it waited with it.
    db, healthy = tenant_db
    # Named and marked to come first (marks are read in key order, or in the order written).
    broken = TenantDatabase("default", tenant_database_name(f"uow-000{uuid.uuid4().hex[:7]}", RUN_TENANT_DB_PREFIX))
    await db.create_tenant_database(broken)
    try:
        await upgrade_tenant(db, broken, TENANT_OUTBOX_MIGRATIONS)
        for tenant in (broken, healthy):
            async with UnitOfWork(db, "things").tenant(tenant) as unit:
                unit.emit(Event("thing.created", tenant.name))
        async with db.tenant_connection(broken) as conn:
            await conn.execute(text("DROP TABLE event_outbox"))
            await conn.commit()
        bus = InProcessEventBus()
        received = Recorder()
        bus.subscribe("thing.", received)
        relay = OutboxRelay(db, bus)
        assert await relay.relay_tenants_once() == 1
        assert [e.tenant_id for e in received.events] == [healthy.name]
        # The failing outbox keeps its mark, to be drained once it can be read again.
        assert (broken.name, 1) in await marks(db)
    finally:
        await db.drop_tenant_database(broken)


async def test_events_piling_up_in_a_tenant_outbox_show_in_the_metrics_until_relayed(
    tenant_db: tuple[DatabaseRouter, TenantDatabase], tmp_path: Path
) -> None:
    """Redis is down: the tenant outbox grows, and so do the metrics (the tenant outboxes backlogged
    and the age of their oldest event, as the relay's drains saw them), though the core outbox,
    drained first, fails too; Redis back, the outbox is drained and both are 0 again."""
    db, tenant = tenant_db
    metrics = Metrics()
    async with own_redis(tmp_path / "redis") as server:
        bus = RedisStreamsEventBus(server.url, StreamSettings(namespace=f"test-{uuid.uuid4().hex[:8]}"))
        relay = OutboxRelay(db, bus, poll_seconds=0.1, mark_keep_seconds=0)
        probe = outbox_probe(relay, metrics)
        await server.stop()
        await UnitOfWork(db, "things").emit(Event("thing.core", None))
        for name in ("a", "b"):
            async with UnitOfWork(db, "things").tenant(tenant) as unit:
                await unit.session.execute(insert(THINGS).values(name=name))
                unit.emit(Event("thing.created", "t-1"))
        # As if they had waited five minutes already.
        async with db.tenant_connection(tenant) as conn:
            await conn.execute(update(OutboxRow).values(create_time=utcnow() - timedelta(minutes=5)))
            await conn.commit()
        relay.start()
        try:

            async def seen(backlogged: float, at_least: float, below: float) -> bool:
                await probe()
                age = metrics.registry.get_sample_value("tenantmesh_tenant_outbox_oldest_event_age_seconds")
                count = metrics.registry.get_sample_value("tenantmesh_tenant_outboxes_backlogged")
                return count == backlogged and age is not None and at_least <= age < below

            await eventually(lambda: seen(1, 300, 400), within=10)
            assert len(await tenant_outbox(db, tenant)) == 2
            await server.start()
            await eventually(lambda: seen(0, 0, 0.5), within=10)
        finally:
            await relay.stop()
            await bus.close()
    assert await tenant_outbox(db, tenant) == []
    assert metrics.registry.get_sample_value("tenantmesh_outbox_backlog") == 0
