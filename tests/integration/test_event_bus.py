"""The event bus: outbox → relay → transport, at least once and processed once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from sqlalchemy import insert, select
from tenantmesh.events.v1 import events_pb2

from services.runtime.db import DatabaseRouter
from services.runtime.events import (
    Event,
    InProcessEventBus,
    RedisStreamsEventBus,
    StreamSettings,
)
from services.runtime.outbox import OUTBOX_MIGRATIONS, OutboxRelay, OutboxRow, row_values
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.probes import stream_probe
from services.runtime.unit_of_work import UnitOfWork
from tests.support.own_redis import own_redis
from tests.support.registry import eventually
from tests.support.routers import migrated_router


@pytest.fixture
async def router(db_backend_url: str, tmp_path: Path) -> AsyncIterator[DatabaseRouter]:
    async with migrated_router(db_backend_url, tmp_path, OUTBOX_MIGRATIONS) as db:
        yield db


# Each run its own keys: test runs sharing a Redis must not see each other's events.
NAMESPACE = f"test-{uuid.uuid4().hex[:8]}"
STREAM = f"{NAMESPACE}:events"
DEAD_LETTER_STREAM = f"{NAMESPACE}:events:dead"


def stream_settings(**overrides: int) -> StreamSettings:
    return StreamSettings(namespace=NAMESPACE, **overrides)


@pytest.fixture
async def clean_redis(redis_url: str) -> AsyncIterator[str]:
    yield redis_url
    client = redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(f"{NAMESPACE}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def tenant_event(kind: str = "tenant.suspended") -> Event:
    tenant_id = str(uuid.uuid4())
    return Event(kind, tenant_id, events_pb2.TenantChanged(tenant_id=tenant_id, state="SUSPENDED"))


async def commit_event(db: DatabaseRouter, event: Event) -> None:
    await UnitOfWork(db, "tests").emit(event)


async def test_event_committed_before_a_crash_is_delivered_after_restart(router: DatabaseRouter) -> None:
    # The "crashed" producer committed the change and its event, and never published.
    event = tenant_event()
    await commit_event(router, event)

    bus = InProcessEventBus()
    received: list[Event] = []

    async def on_tenant(got: Event) -> None:
        received.append(got)

    bus.subscribe("tenant.", on_tenant)

    # A change that fails leaves no event behind, neither in the outbox nor handed to the relay
    # or the bus after its (rolled back) transaction.
    async def failing_change() -> None:
        relay = OutboxRelay(router, bus)
        async with UnitOfWork(router, "tests", relay=relay, deliver_to=bus).core() as work:
            work.emit(tenant_event("tenant.never"))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert received == []

    restarted = OutboxRelay(router, bus)
    assert await restarted.relay_once() == 1
    assert [(e.id, e.type, e.producer) for e in received] == [(event.id, "tenant.suspended", "tests")]
    assert isinstance(received[0].payload, events_pb2.TenantChanged)
    assert received[0].payload.state == "SUSPENDED"
    # Published events leave the outbox: a second relay publishes nothing again.
    assert await OutboxRelay(router, bus).relay_once() == 0


class FailsOnce(InProcessEventBus):
    """A bus whose first publish fails (the transport is down), and later ones go through."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def publish(self, event: Event) -> None:
        if not self.failures:
            self.failures += 1
            raise ConnectionError("the bus is down")
        await super().publish(event)


async def outbox_ids(db: DatabaseRouter) -> list[str]:
    async with db.core_session() as session:
        return list((await session.execute(select(OutboxRow.event_id))).scalars())


async def test_an_event_whose_publish_fails_stays_in_the_outbox_and_goes_out_at_the_next_relay(
    router: DatabaseRouter,
) -> None:
    event = tenant_event()
    await commit_event(router, event)
    bus = FailsOnce()
    received: list[str] = []

    async def on_tenant(got: Event) -> None:
        received.append(got.id)

    bus.subscribe("tenant.", on_tenant)
    relay = OutboxRelay(router, bus)
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    # Not published, so not deleted: the row outlives the failure ...
    assert bus.failures == 1
    assert received == []
    assert await outbox_ids(router) == [event.id]
    # ... and the next relay publishes it, then deletes it.
    assert await relay.relay_once() == 1
    assert received == [event.id]
    assert await outbox_ids(router) == []
    assert await relay.relay_once() == 0


async def test_relay_task_publishes_when_notified(router: DatabaseRouter) -> None:
    bus = InProcessEventBus()
    delivered = asyncio.Event()

    async def on_event(_: Event) -> None:
        delivered.set()

    bus.subscribe("tenant.", on_event)
    relay = OutboxRelay(router, bus, poll_seconds=30)
    relay.start()
    try:
        await asyncio.sleep(0.05)
        # The unit of work wakes the relay after its commit: no 30 s poll to wait for.
        await UnitOfWork(router, "tests", relay=relay).emit(tenant_event())
        await asyncio.wait_for(delivered.wait(), timeout=2)
    finally:
        await relay.stop()


async def test_in_process_group_handles_each_event_once_and_dead_letters_poison() -> None:
    bus = InProcessEventBus(max_deliveries=3)
    handled: list[str] = []
    attempts = 0

    async def flaky(event: Event) -> None:
        nonlocal attempts
        attempts += 1
        if event.type == "tenant.poison":
            raise RuntimeError("cannot handle")
        handled.append(event.id)

    bus.subscribe_group("audit", "tenant.", flaky)
    good = tenant_event()
    await bus.publish(good)
    await bus.publish(good)  # redelivery of the same event id
    assert handled == [good.id]
    poison = tenant_event("tenant.poison")
    attempts = 0
    await bus.publish(poison)
    assert attempts == 3
    assert [(group, event.id) for group, event, _ in bus.dead_letters] == [("audit", poison.id)]


class CrashesBeforeAck(RedisStreamsEventBus):
    """A consumer that dies after handling an event, before acknowledging it."""

    async def _acknowledge(self, group: str, entry_id: bytes) -> None:
        raise asyncio.CancelledError


async def test_redis_group_consumer_crash_before_ack_is_redelivered_and_processed_once(clean_redis: str) -> None:
    settings = stream_settings(claim_idle_ms=200, block_ms=100, max_deliveries=3)
    handled: list[tuple[str, str]] = []

    def handler_of(name: str) -> Callable[[Event], Awaitable[None]]:
        async def handle(event: Event) -> None:
            handled.append((name, event.id))

        return handle

    crashing = CrashesBeforeAck(clean_redis, settings, consumer="crashing")
    crashing.subscribe_group("mailer", "tenant.", handler_of("crashing"))
    await crashing.start()
    publisher = RedisStreamsEventBus(clean_redis, settings, consumer="publisher")
    event = tenant_event()
    client = redis.from_url(clean_redis)
    try:
        await publisher.publish(event)
        for _ in range(50):
            if handled:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        await crashing.close()
        assert (await client.xpending(STREAM, "mailer"))["pending"] == 1

        survivor = RedisStreamsEventBus(clean_redis, settings, consumer="survivor")
        survivor.subscribe_group("mailer", "tenant.", handler_of("survivor"))
        await survivor.start()
        try:
            for _ in range(50):
                if (await client.xpending(STREAM, "mailer"))["pending"] == 0:
                    break
                await asyncio.sleep(0.1)
        finally:
            await survivor.close()
        # Redelivered and acknowledged by the survivor, but handled only once.
        assert (await client.xpending(STREAM, "mailer"))["pending"] == 0
        assert handled == [("crashing", event.id)]
    finally:
        await publisher.close()
        await client.aclose()


async def test_redis_group_redelivers_when_the_handler_dies_midway(clean_redis: str) -> None:
    settings = stream_settings(claim_idle_ms=200, block_ms=100, max_deliveries=3)
    processed: list[str] = []
    crash_once = asyncio.Event()

    async def handler(event: Event) -> None:
        processed.append(event.id)
        if not crash_once.is_set():
            crash_once.set()
            # Dies after doing the work, before acknowledging it.
            raise asyncio.CancelledError

    first = RedisStreamsEventBus(clean_redis, settings, consumer="first")
    first.subscribe_group("billing", "tenant.", handler)
    await first.start()
    publisher = RedisStreamsEventBus(clean_redis, settings, consumer="publisher")
    event = tenant_event()
    try:
        await publisher.publish(event)
        await asyncio.wait_for(crash_once.wait(), timeout=3)
    finally:
        await first.close()
    assert processed == [event.id]

    # A new consumer of the same group takes the unacknowledged entry over.
    second_seen: list[str] = []

    async def steady(event: Event) -> None:
        second_seen.append(event.id)

    second = RedisStreamsEventBus(clean_redis, settings, consumer="second")
    second.subscribe_group("billing", "tenant.", steady)
    await second.start()
    try:
        for _ in range(50):
            if second_seen:
                break
            await asyncio.sleep(0.1)
    finally:
        await second.close()
        await publisher.close()
    assert second_seen == [event.id]

    client = redis.from_url(clean_redis)
    try:
        pending = await client.xpending(STREAM, "billing")
        assert pending["pending"] == 0
    finally:
        await client.aclose()


async def test_redis_going_away_before_the_processed_marker_does_not_handle_the_event_again(tmp_path: Path) -> None:
    """The handler finishes, then Redis stops before the bus writes the processed marker or
    acknowledges: when Redis is back the entry is redelivered to this consumer, which knows it
    handled the event already."""
    settings = stream_settings(claim_idle_ms=200, block_ms=100)
    handled: list[str] = []
    async with own_redis(tmp_path / "redis") as server:

        async def handler_then_outage(event: Event) -> None:
            handled.append(event.id)
            if len(handled) == 1:
                await server.stop()

        bus = RedisStreamsEventBus(server.url, settings, consumer="only")
        bus.subscribe_group("mailer", "tenant.", handler_then_outage)
        await bus.start()
        event = tenant_event()
        try:
            await bus.publish(event)

            async def handled_once() -> bool:
                return bool(handled)

            await eventually(handled_once, within=5)
            await asyncio.sleep(0.5)  # the bus's marker write fails meanwhile
            await server.start()
            client = redis.from_url(server.url)

            async def acknowledged() -> bool:
                return int((await client.xpending(STREAM, "mailer"))["pending"]) == 0

            try:
                await eventually(acknowledged, within=10)
                assert await client.exists(f"{NAMESPACE}:processed:mailer:{event.id}")
            finally:
                await client.aclose()
        finally:
            await bus.close()
    assert handled == [event.id]


async def test_redis_group_dead_letters_after_repeated_failures(clean_redis: str) -> None:
    settings = stream_settings(claim_idle_ms=100, block_ms=100, max_deliveries=2)
    attempts = 0

    async def always_fails(event: Event) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("broken consumer")

    bus = RedisStreamsEventBus(clean_redis, settings, consumer="c1")
    bus.subscribe_group("broken", "tenant.", always_fails)
    await bus.start()
    event = tenant_event()
    client = redis.from_url(clean_redis)
    try:
        await bus.publish(event)
        dead: Any = []
        for _ in range(60):
            dead = await client.xrange(DEAD_LETTER_STREAM)
            if dead:
                break
            await asyncio.sleep(0.1)
        assert len(dead) == 1
        assert Event.decode(dead[0][1][b"envelope"]).id == event.id
        assert attempts == 2
        assert (await client.xpending(STREAM, "broken"))["pending"] == 0
    finally:
        await bus.close()
        await client.aclose()


async def test_the_stream_probe_reads_a_deleted_stream_as_no_groups(clean_redis: str) -> None:
    bus = RedisStreamsEventBus(clean_redis, stream_settings(), consumer="probed")

    async def ignore(event: Event) -> None:
        return None

    bus.subscribe_group("mailer", "tenant.", ignore)
    await bus.start()
    client = redis.from_url(clean_redis)
    try:
        probe = stream_probe(bus, Metrics())
        await probe()
        await client.delete(STREAM)
        await probe()  # no group to report, and no failure
    finally:
        await bus.close()
        await client.aclose()


async def test_closing_wakes_readers_blocked_in_a_read(clean_redis: str) -> None:
    # Reads that block for a minute: close() must end them (CLIENT UNBLOCK), not wait them out.
    bus = RedisStreamsEventBus(clean_redis, stream_settings(block_ms=60_000), consumer="sleeper")

    async def ignore(event: Event) -> None:
        return None

    bus.subscribe("tenant.", ignore)
    bus.subscribe_group("mailer", "tenant.", ignore)
    await bus.start()
    client = redis.from_url(clean_redis)
    try:
        blocked: list[dict[str, Any]] = []
        for _ in range(200):  # until both readers (broadcast and group) wait in their read
            blocked = [
                c
                for c in await client.client_list()
                if c["name"] == "tenantmesh-events-sleeper" and c["cmd"] in ("xread", "xreadgroup")
            ]
            if len(blocked) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(c["cmd"] for c in blocked) == ["xread", "xreadgroup"]
        # Waiting the reads out would take a minute.
        await asyncio.wait_for(bus.close(), timeout=20)
        ids = {c["id"] for c in blocked}
        assert [c for c in await client.client_list() if c["id"] in ids] == []
    finally:
        await client.aclose()


async def test_an_entry_that_does_not_decode_is_dead_lettered_at_once_and_holds_up_nothing(clean_redis: str) -> None:
    settings = stream_settings(claim_idle_ms=100, block_ms=100, max_deliveries=3)
    client = redis.from_url(clean_redis)
    # The group exists before the entries, as in a running mesh; a damaged entry comes first.
    await client.xgroup_create(STREAM, "auth-tenants", id="$", mkstream=True)
    await client.xadd(STREAM, {"envelope": b"\xff\xff\xff\xff"})
    behind = tenant_event("tenant.deleted")
    await client.xadd(STREAM, {"envelope": behind.encode()})
    handled: list[str] = []

    async def on_tenant(event: Event) -> None:
        handled.append(event.id)

    bus = RedisStreamsEventBus(clean_redis, settings, consumer="c1")
    bus.subscribe_group("auth-tenants", "tenant.", on_tenant)
    await bus.start()

    async def handled_behind() -> bool:
        return handled == [behind.id]

    try:
        await eventually(handled_behind)
        dead: Any = await client.xrange(DEAD_LETTER_STREAM)
        assert [entry[b"envelope"] for _, entry in dead] == [b"\xff\xff\xff\xff"]
        assert (await client.xpending(STREAM, "auth-tenants"))["pending"] == 0
    finally:
        await bus.close()
        await client.aclose()


async def test_an_outbox_row_that_does_not_decode_is_dropped_and_the_rows_behind_it_are_relayed(
    router: DatabaseRouter,
) -> None:
    async with router.core_session() as session:
        damaged = {**row_values(tenant_event()), "envelope": b"\xff\xff\xff\xff"}
        await session.execute(insert(OutboxRow).values(**damaged))
        await session.commit()
    behind = tenant_event()
    await commit_event(router, behind)
    bus = InProcessEventBus()
    received: list[str] = []

    async def on_tenant(got: Event) -> None:
        received.append(got.id)

    bus.subscribe("tenant.", on_tenant)
    assert await OutboxRelay(router, bus).relay_once() == 2
    assert received == [behind.id]
    assert await OutboxRelay(router, bus).relay_once() == 0


async def test_an_event_past_64_kib_is_stored_and_relayed_whole(router: DatabaseRouter) -> None:
    # MySQL's and MariaDB's BLOB stops at 64 KiB; an event may carry a service's config schema.
    tenant_id = str(uuid.uuid4())
    large = Event("tenant.suspended", tenant_id, events_pb2.TenantChanged(tenant_id=tenant_id, state="S" * 100_000))
    await commit_event(router, large)
    bus = InProcessEventBus()
    received: list[Event] = []

    async def on_tenant(got: Event) -> None:
        received.append(got)

    bus.subscribe("tenant.", on_tenant)
    assert await OutboxRelay(router, bus).relay_once() == 1
    [got] = received
    assert isinstance(got.payload, events_pb2.TenantChanged)
    assert len(got.payload.state) == 100_000


async def test_an_event_published_twice_is_handled_once_by_a_group_of_two_consumers(clean_redis: str) -> None:
    # The tenants service hands its events to the bus at once and the relay publishes them again
    # (same id): two entries, which two consumers of a group read at the same time. Both found no
    # processed marker (neither had finished) and both handled it: two audit rows for one change.
    settings = stream_settings(claim_idle_ms=300, block_ms=100)
    handled: list[str] = []
    started = asyncio.Event()

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.3)
        handled.append(event.id)

    consumers = [RedisStreamsEventBus(clean_redis, settings, consumer=f"c{n}") for n in (1, 2)]
    for consumer in consumers:
        consumer.subscribe_group("audit", "tenant.", slow)
        await consumer.start()
    publisher = RedisStreamsEventBus(clean_redis, settings, consumer="publisher")
    client = redis.from_url(clean_redis)
    event = tenant_event()
    try:
        await publisher.publish(event)
        await asyncio.wait_for(started.wait(), timeout=5)
        await publisher.publish(event)  # read by the consumer that is not busy with the first
        await eventually(lambda: _nothing_pending(client, "audit"), within=10)
        assert handled == [event.id]
    finally:
        for consumer in consumers:
            await consumer.close()
        await publisher.close()
        await client.aclose()


async def _nothing_pending(client: Any, group: str) -> bool:
    info = await client.xinfo_groups(STREAM)
    lag = next(g for g in info if g["name"].decode() == group)
    return int(lag["pending"]) == 0 and int(lag.get("lag") or 0) == 0


async def test_a_group_handler_that_hangs_fails_after_its_time_limit_and_the_next_event_is_handled(
    clean_redis: str,
) -> None:
    # A handler that never returns stalled its consumer for ever: nothing behind it was handled.
    settings = StreamSettings(
        namespace=NAMESPACE, claim_idle_ms=100, block_ms=100, max_deliveries=2, handler_timeout_seconds=0.5
    )
    hung = tenant_event()
    behind = tenant_event("tenant.deleted")
    attempts: list[str] = []
    handled: list[str] = []

    async def hangs_on_the_first(event: Event) -> None:
        attempts.append(event.id)
        if event.id == hung.id:
            await asyncio.Event().wait()
        handled.append(event.id)

    bus = RedisStreamsEventBus(clean_redis, settings, consumer="c1")
    bus.subscribe_group("mailer", "tenant.", hangs_on_the_first)
    await bus.start()
    client = redis.from_url(clean_redis)
    try:
        await bus.publish(hung)
        await bus.publish(behind)

        async def behind_handled_and_hung_dead_lettered() -> bool:
            return handled == [behind.id] and bool(await client.xrange(DEAD_LETTER_STREAM))

        await eventually(behind_handled_and_hung_dead_lettered, within=10)
        # Failed like any failure: delivered max_deliveries times, then dead-lettered with the reason.
        assert attempts.count(hung.id) == 2
        entries: Any = await client.xrange(DEAD_LETTER_STREAM)
        [(_, dead)] = entries
        assert Event.decode(dead[b"envelope"]).id == hung.id
        assert dead[b"error"].startswith(b"TimeoutError(")  # the time limit, not the handler, ended it
        await eventually(lambda: _nothing_pending(client, "mailer"), within=5)
    finally:
        await bus.close()
        await client.aclose()


async def test_an_in_process_group_handler_that_hangs_fails_after_its_time_limit() -> None:
    bus = InProcessEventBus(max_deliveries=2, handler_timeout_seconds=0.2)
    handled: list[str] = []

    async def hangs_on_the_first(event: Event) -> None:
        if event.type == "tenant.suspended":
            await asyncio.Event().wait()
        handled.append(event.id)

    bus.subscribe_group("mailer", "tenant.", hangs_on_the_first)
    hung, behind = tenant_event(), tenant_event("tenant.deleted")
    await asyncio.wait_for(bus.publish(hung), timeout=5)
    await bus.publish(behind)
    assert handled == [behind.id]
    assert [(group, event.id) for group, event, _ in bus.dead_letters] == [("mailer", hung.id)]
    assert bus.dead_letters[0][2].startswith("TimeoutError(")  # the time limit, not the handler, ended it


async def test_a_handler_slower_than_the_claim_time_is_not_taken_over_while_it_runs(clean_redis: str) -> None:
    # Its entry looked idle and its claim key ran out after claim_idle_ms: the other consumer of
    # the group took the entry over and handled the event a second time, alongside the first.
    settings = stream_settings(claim_idle_ms=500, block_ms=100)
    client = redis.from_url(clean_redis)
    started: list[str] = []
    finished: list[str] = []
    # Who the entry was pending with, and how often delivered, when its handler finished.
    pending_at_the_end: list[tuple[str, int]] = []

    def handler_of(name: str) -> Callable[[Event], Awaitable[None]]:
        async def slow(event: Event) -> None:
            started.append(name)
            await asyncio.sleep(1.0)  # twice the claim time
            entries: Any = await client.xpending_range(STREAM, "audit", min="-", max="+", count=10)
            [entry] = entries
            pending_at_the_end.append((entry["consumer"].decode(), int(entry["times_delivered"])))
            finished.append(name)

        return slow

    consumers = [RedisStreamsEventBus(clean_redis, settings, consumer=f"c{n}") for n in (1, 2)]
    for n, consumer in enumerate(consumers, start=1):
        consumer.subscribe_group("audit", "tenant.", handler_of(f"c{n}"))
        await consumer.start()
    publisher = RedisStreamsEventBus(clean_redis, settings, consumer="publisher")
    try:
        await publisher.publish(tenant_event())

        async def finished_once() -> bool:
            return bool(finished) and await _nothing_pending(client, "audit")

        await eventually(finished_once, within=10)
        await asyncio.sleep(0.6)  # a takeover would have started by now
        assert len(started) == 1
        assert finished == started
        # Kept by its consumer (renewed, not claimed away and back), delivered once.
        assert pending_at_the_end == [(started[0], 1)]
    finally:
        for consumer in consumers:
            await consumer.close()
        await publisher.close()
        await client.aclose()


async def test_a_consumer_that_dies_in_a_slow_handler_has_its_event_taken_over_after_the_claim_time(
    clean_redis: str,
) -> None:
    # Renewing the claim while a handler runs must not keep a dead consumer's event from the rest.
    settings = stream_settings(claim_idle_ms=500, block_ms=100)
    handled: list[str] = []
    died = asyncio.Event()

    async def dies_midway(event: Event) -> None:
        await asyncio.sleep(0.8)  # long enough for its claim to have been renewed
        died.set()
        raise asyncio.CancelledError  # the consumer is gone: no failure recorded, no more renewals

    async def steady(event: Event) -> None:
        handled.append(event.id)

    first = RedisStreamsEventBus(clean_redis, settings, consumer="first")
    first.subscribe_group("billing", "tenant.", dies_midway)
    await first.start()
    publisher = RedisStreamsEventBus(clean_redis, settings, consumer="publisher")
    client = redis.from_url(clean_redis)
    event = tenant_event()
    second = RedisStreamsEventBus(clean_redis, settings, consumer="second")
    try:
        await publisher.publish(event)
        await asyncio.wait_for(died.wait(), timeout=5)
        second.subscribe_group("billing", "tenant.", steady)
        await second.start()
        loop = asyncio.get_running_loop()
        since = loop.time()

        async def taken_over() -> bool:
            return handled == [event.id] and await _nothing_pending(client, "billing")

        await eventually(taken_over, within=5)
        # Within about one claim time of the last renewal (a quarter second before the death).
        assert loop.time() - since < 2.0
    finally:
        await second.close()
        await first.close()
        await publisher.close()
        await client.aclose()
