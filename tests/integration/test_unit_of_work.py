"""The unit of work (services/runtime/unit_of_work.py): a change and its events commit together or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from services.runtime.db import DatabaseRouter, upgrade_core
from services.runtime.events import Event, InProcessEventBus
from services.runtime.outbox import OUTBOX_MIGRATIONS, OutboxRelay, OutboxRow
from services.runtime.unit_of_work import UnitOfWork


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


@pytest.mark.parametrize("variant", ["core", "core_connection"])
async def test_a_failed_change_announces_nothing(router: DatabaseRouter, variant: str) -> None:
    work = UnitOfWork(router, "things")

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
