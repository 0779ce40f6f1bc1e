"""Platform events: what changed, for the services that react to it.

Producers write events to the outbox in the same transaction as the change
(see :mod:`services.runtime.outbox`); the relay publishes them here. Two
kinds of subscription:

- ``subscribe`` (broadcast): every process gets every event — for what each
  process keeps in memory (tenant caches, the revocation list);
- ``subscribe_group`` (work queue): one process of the group handles each
  event, at least once, with retries, a dead-letter stream after repeated
  failures, and processed event ids remembered so a redelivery is not handled
  twice.

Two transports share the interface: in-process (the embedded single-process
default) and Redis Streams (services in separate processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as redis
from google.protobuf import any_pb2, json_format, struct_pb2, symbol_database, timestamp_pb2
from google.protobuf.message import Message
from tenantmesh.events.v1 import events_pb2

from services.runtime.config import EnvReader
from services.runtime.context import principal_var, request_id_var
from services.runtime.ids import uuid7
from services.runtime.telemetry.events import EventTelemetry
from services.runtime.telemetry.trace_context import current_traceparent

log = logging.getLogger("tenantmesh.events")

# Key names below are prefixed with the namespace (default "tenantmesh"), so
# several platforms, or test runs, can share one Redis.
DEFAULT_NAMESPACE = "tenantmesh"
STREAM = "tenantmesh:events"
DEAD_LETTER_STREAM = "tenantmesh:events:dead"
# The stream keeps about this many recent events; consumers that fall further
# behind than that have lost events (sized for hours of platform changes).
STREAM_MAX_LENGTH = 100_000
# A broadcast read that has not returned this long after its blocking time is over counts as
# Redis not answering.
STREAM_SILENCE_GRACE_SECONDS = 1.0
# How long one delivery to a group's handlers may take before it counts as failed (and is retried
# or dead-lettered like any failure): a handler that hangs must not stall its consumer for ever.
HANDLER_TIMEOUT_SECONDS = 30.0

# Renews a handler's claim for ``claim_idle_ms`` if this consumer still holds its handling key:
# the key's time to live, and the entry's idle time (XCLAIM by the same consumer, min-idle 0;
# JUSTID, so its delivery count stays). Nothing if the key ran out and another took it meanwhile.
# KEYS: stream, handling key; ARGV: consumer, claim_idle_ms, group, entry id.
_RENEW_CLAIM = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('XCLAIM', KEYS[1], ARGV[3], ARGV[1], 0, ARGV[4], 'JUSTID')
return 1
"""


def _current_actor() -> str:
    principal = principal_var.get()
    return principal.subject if principal is not None else "system"


Payload = Message | Mapping[str, Any]


@dataclass(frozen=True)
class Event:
    type: str  # e.g. "tenant.suspended"
    tenant_id: str | None
    # A message from tenantmesh/events/v1 (or any registered message); a plain
    # mapping travels as a google.protobuf.Struct.
    payload: Payload = field(default_factory=dict)
    id: str = field(default_factory=uuid7)
    time: float = field(default_factory=time.time)
    # Who caused it and in which call: taken from the publishing call's context.
    actor: str = field(default_factory=_current_actor)
    request_id: str = field(default_factory=request_id_var.get)
    # The span that wrote it (the outbox stores it with the event): consumers link to it.
    traceparent: str = field(default_factory=current_traceparent)
    producer: str = ""

    def payload_dict(self) -> dict[str, Any]:
        if isinstance(self.payload, Message):
            return json_format.MessageToDict(self.payload, preserving_proto_field_name=True)
        return dict(self.payload)

    def to_envelope(self) -> events_pb2.EventEnvelope:
        packed = any_pb2.Any()
        if isinstance(self.payload, Message):
            packed.Pack(self.payload)
        else:
            data = struct_pb2.Struct()
            data.update(dict(self.payload))
            packed.Pack(data)
        stamp = timestamp_pb2.Timestamp()
        stamp.FromNanoseconds(int(self.time * 1e9))
        return events_pb2.EventEnvelope(
            event_id=self.id,
            type=self.type,
            tenant_id=self.tenant_id or "",
            time=stamp,
            request_id=self.request_id,
            traceparent=self.traceparent,
            actor=self.actor,
            producer=self.producer,
            payload=packed,
        )

    def encode(self) -> bytes:
        return self.to_envelope().SerializeToString()

    @classmethod
    def from_envelope(cls, envelope: events_pb2.EventEnvelope) -> Event:
        return cls(
            type=envelope.type,
            tenant_id=envelope.tenant_id or None,
            payload=_unpack(envelope.payload),
            id=envelope.event_id,
            time=envelope.time.ToNanoseconds() / 1e9,
            actor=envelope.actor or "system",
            request_id=envelope.request_id,
            traceparent=envelope.traceparent,
            producer=envelope.producer,
        )

    @classmethod
    def decode(cls, raw: bytes) -> Event:
        return cls.from_envelope(events_pb2.EventEnvelope.FromString(raw))


def _unpack(packed: any_pb2.Any) -> Payload:
    if not packed.type_url:
        return {}
    name = packed.type_url.rsplit("/", 1)[-1]
    if name == struct_pb2.Struct.DESCRIPTOR.full_name:
        data = struct_pb2.Struct()
        packed.Unpack(data)
        return json_format.MessageToDict(data)
    try:
        message: Message = symbol_database.Default().GetSymbol(name)()
    except KeyError:
        return {}
    packed.Unpack(message)
    return message


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...
    def subscribe(self, type_prefix: str, handler: Handler) -> None: ...
    def subscribe_group(self, group: str, type_prefix: str, handler: Handler) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...

    # Spans and counters of deliveries (set by the runtime; none by default).
    telemetry: EventTelemetry


class _Handlers:
    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []

    def add(self, type_prefix: str, handler: Handler) -> None:
        self._handlers.append((type_prefix, handler))

    def matching(self, event: Event) -> list[Handler]:
        return [handler for prefix, handler in self._handlers if event.type.startswith(prefix)]

    async def deliver_best_effort(self, event: Event) -> None:
        for handler in self.matching(event):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed", extra={"event_type": event.type, "event_id": event.id})

    async def deliver(self, event: Event, time_limit: float) -> None:
        """Runs every matching handler, all of them within ``time_limit`` seconds; the first failure
        propagates (the event is retried), and so does running out of time (TimeoutError: the
        handler still running is cancelled)."""
        limit = asyncio.timeout(time_limit)
        try:
            async with limit:
                for handler in self.matching(event):
                    await handler(event)
        except TimeoutError:
            if limit.expired():  # not a handler's own TimeoutError: said so in the dead-letter entry
                raise TimeoutError(f"event handlers ran past their time limit ({time_limit:g} s)") from None
            raise


class _RecentIds:
    """A bounded memory of processed event ids (in-process idempotency)."""

    def __init__(self, size: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)


class InProcessEventBus:
    """One process: events go straight to the handlers; groups still handle each event once."""

    def __init__(self, max_deliveries: int = 5, handler_timeout_seconds: float = HANDLER_TIMEOUT_SECONDS) -> None:
        self._broadcast = _Handlers()
        self._groups: dict[str, _Handlers] = {}
        self._processed: dict[str, _RecentIds] = {}
        self._max_deliveries = max_deliveries
        self._handler_timeout = handler_timeout_seconds
        self.dead_letters: list[tuple[str, Event, str]] = []
        self.telemetry = EventTelemetry()

    async def publish(self, event: Event) -> None:
        await self._broadcast.deliver_best_effort(event)
        for group, handlers in self._groups.items():
            processed = self._processed[group]
            if event.id in processed:
                self.telemetry.handled(group, "duplicate")
                continue
            for attempt in range(1, self._max_deliveries + 1):
                try:
                    with self.telemetry.handling(event, "inprocess", group):
                        await handlers.deliver(event, self._handler_timeout)
                    processed.add(event.id)
                    self.telemetry.handled(group, "ok")
                    break
                except Exception as exc:
                    self.telemetry.handled(group, "failed")
                    log.warning(
                        "group handler failed", extra={"group": group, "event_id": event.id, "attempt": attempt}
                    )
                    if attempt == self._max_deliveries:
                        self.dead_letters.append((group, event, repr(exc)))
                        self.telemetry.dead_lettered(group)

    def subscribe(self, type_prefix: str, handler: Handler) -> None:
        self._broadcast.add(type_prefix, handler)

    def subscribe_group(self, group: str, type_prefix: str, handler: Handler) -> None:
        self._groups.setdefault(group, _Handlers()).add(type_prefix, handler)
        self._processed.setdefault(group, _RecentIds())

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class StreamSettings:
    # A delivered but unacknowledged entry is taken over by another consumer after this long.
    claim_idle_ms: int = 5_000
    # After this many deliveries an event goes to the dead-letter stream.
    max_deliveries: int = 5
    block_ms: int = 1_000
    # How long processed event ids are remembered.
    processed_ttl_seconds: int = 7 * 24 * 3600
    namespace: str = DEFAULT_NAMESPACE
    # How long one delivery to a group's handlers may take before it counts as failed.
    handler_timeout_seconds: float = HANDLER_TIMEOUT_SECONDS

    @property
    def stream(self) -> str:
        return f"{self.namespace}:events"

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.namespace}:events:dead"


class RedisStreamsEventBus:
    def __init__(self, url: str, settings: StreamSettings | None = None, consumer: str | None = None) -> None:
        # Typed loosely: the client's return types depend on decode settings.
        self._redis: Any = redis.from_url(url)
        self._settings = settings or StreamSettings()
        self._consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid7()[-8:]}"
        self._broadcast = _Handlers()
        self._groups: dict[str, _Handlers] = {}
        # Per group, the events this process's handlers finished: the processed markers in
        # Redis are the group's memory, this is the process's own for when Redis fails between
        # a handler finishing and its marker being written. (Another process that claims such
        # an entry still handles it again: group handlers are idempotent.)
        self._handled_here: dict[str, _RecentIds] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        # Readers stop between blocking reads rather than being cancelled in
        # one: cancelling the client mid-command can leave its connection pool
        # unable to close. Each reader blocks on a connection of its own, whose
        # client id is kept here, so that close() ends a waiting read at once with
        # CLIENT UNBLOCK (the read returns as if its time ran out) instead of
        # waiting the block time out.
        self._stopping = False
        self._blocking_ids: dict[int, int] = {}
        # When the broadcast reader last heard from Redis (a read that returned, with or
        # without entries), and whether its last read failed: how a process tells that
        # events may not be reaching it (services.runtime.auth.revocation_follower).
        self._stream_confirmed_at = time.monotonic()
        self._stream_failing = False
        self._renew_claim = self._redis.register_script(_RENEW_CLAIM)
        self.telemetry = EventTelemetry(system="redis")

    @property
    def client(self) -> Any:
        """The bus's Redis client (to instrument it; the metrics sampler reads group lag with it)."""
        return self._redis

    @property
    def settings(self) -> StreamSettings:
        return self._settings

    def groups(self) -> list[str]:
        return list(self._groups)

    def stream_healthy(self) -> bool:
        """False once a broadcast read failed, or none returned for well over one blocking read
        (a Redis that stopped answering without closing the connection), until one returns."""
        silent = time.monotonic() - self._stream_confirmed_at
        return not self._stream_failing and silent < self._settings.block_ms / 1000 + STREAM_SILENCE_GRACE_SECONDS

    async def publish(self, event: Event) -> None:
        await self._redis.xadd(
            self._settings.stream, {"envelope": event.encode()}, maxlen=STREAM_MAX_LENGTH, approximate=True
        )

    def subscribe(self, type_prefix: str, handler: Handler) -> None:
        self._broadcast.add(type_prefix, handler)

    def subscribe_group(self, group: str, type_prefix: str, handler: Handler) -> None:
        new = group not in self._groups
        self._groups.setdefault(group, _Handlers()).add(type_prefix, handler)
        self._handled_here.setdefault(group, _RecentIds())
        if new and self._started:
            self._tasks.append(asyncio.create_task(self._join_group(group), name=f"events-{group}"))

    async def _join_group(self, group: str) -> None:
        await self._ensure_group(group)
        await self._consume(group, self._groups[group])

    async def start(self) -> None:
        self._started = True
        # Broadcast readers start at the end: a process's memory starts empty and
        # is filled from the database (or Redis) when it needs something.
        last = await self._last_id()
        self._tasks.append(asyncio.create_task(self._tail(last), name="events-broadcast"))
        for group in list(self._groups):
            # Created before start() returns: events published after it are the group's.
            await self._ensure_group(group)
            self._tasks.append(asyncio.create_task(self._join_group(group), name=f"events-{group}"))

    async def _last_id(self) -> str:
        entries = await self._redis.xrevrange(self._settings.stream, count=1)
        return entries[0][0].decode() if entries else "0-0"

    async def _ensure_group(self, group: str) -> None:
        try:
            await self._redis.xgroup_create(self._settings.stream, group, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @contextlib.asynccontextmanager
    async def _reader_connection(self) -> AsyncIterator[Any]:
        """A client on one connection of the pool, for one reader's blocking reads."""
        connection = self._redis.client()
        try:
            yield connection
        finally:
            self._blocking_ids.pop(id(connection), None)
            await connection.aclose()

    async def _may_block(self, connection: Any) -> bool:
        """Before a blocking read on ``connection``: False once the bus is closing. Learns the
        connection's client id first (again after a failure: a reconnection gets a new one), and
        names it after this consumer, so that CLIENT LIST tells an operator whose reader it is."""
        if id(connection) not in self._blocking_ids:
            await connection.client_setname(f"tenantmesh-events-{self._consumer}")
            self._blocking_ids[id(connection)] = int(await connection.client_id())
        return not self._stopping

    async def _tail(self, last: str) -> None:
        async with self._reader_connection() as connection:
            await self._follow(connection, last)

    async def _follow(self, connection: Any, last: str) -> None:
        while not self._stopping:
            try:
                if not await self._may_block(connection):
                    return
                batches = await connection.xread(
                    {self._settings.stream: last}, count=100, block=self._settings.block_ms
                )
                self._stream_confirmed_at = time.monotonic()
                self._stream_failing = False
                for _, entries in batches or []:
                    for entry_id, fields in entries:
                        last = entry_id.decode()
                        await self._broadcast.deliver_best_effort(Event.decode(fields[b"envelope"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                self._stream_failing = True
                self._blocking_ids.pop(id(connection), None)
                log.exception("event stream read failed; retrying")
                await asyncio.sleep(1)

    async def _consume(self, group: str, handlers: _Handlers) -> None:
        async with self._reader_connection() as connection:
            await self._consume_on(connection, group, handlers)

    async def _consume_on(self, connection: Any, group: str, handlers: _Handlers) -> None:
        while not self._stopping:
            try:
                # Entries another consumer took but never acknowledged (it crashed).
                claimed = await self._redis.xautoclaim(
                    self._settings.stream,
                    group,
                    self._consumer,
                    min_idle_time=self._settings.claim_idle_ms,
                    start_id="0-0",
                    count=50,
                )
                for entry_id, fields in claimed[1]:
                    if fields:
                        await self._handle(group, handlers, entry_id, fields)
                if not await self._may_block(connection):
                    return
                batches = await connection.xreadgroup(
                    group, self._consumer, {self._settings.stream: ">"}, count=50, block=self._settings.block_ms
                )
                for _, entries in batches or []:
                    for entry_id, fields in entries:
                        await self._handle(group, handlers, entry_id, fields)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._blocking_ids.pop(id(connection), None)
                log.exception("event group read failed; retrying", extra={"group": group})
                await asyncio.sleep(1)

    async def _handle(self, group: str, handlers: _Handlers, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        raw = fields.get(b"envelope", b"")
        try:
            event = Event.decode(raw)
        except Exception as exc:  # whatever the parser raises: no handler will ever read it
            # Dead-lettered at once: retried, it would stay pending forever and hold up the
            # entries read with it, in every group (they share the stream).
            log.error("event entry does not decode", extra={"group": group, "entry_id": entry_id.decode()})
            await self._dead_letter(group, entry_id, raw, exc)
            return
        done_key = f"{self._settings.namespace}:processed:{group}:{event.id}"
        handled_here = self._handled_here[group]
        with self.telemetry.handling(event, self._settings.stream, group):
            if event.id in handled_here:
                # Handled by this process, but Redis may have gone away before the marker was
                # written: written now, so that no other consumer handles it again either.
                self.telemetry.handled(group, "duplicate")
                await self._mark_processed(done_key)
            elif await self._redis.exists(done_key):
                self.telemetry.handled(group, "duplicate")
            elif not await self._take(group, event.id):
                # Another entry of the same event (published at once and again by the relay) is
                # being handled by another consumer: left pending, this one comes back once that
                # finished (acknowledged as a duplicate) or, if it died, to be handled here.
                self.telemetry.handled(group, "duplicate")
                return
            else:
                try:
                    await self._deliver_holding_claim(group, handlers, entry_id, event)
                except Exception as exc:
                    self.telemetry.handled(group, "failed")
                    await self._redis.delete(self._handling_key(group, event.id))  # retried at once
                    await self._failed(group, entry_id, raw, exc)
                    return
                # Remembered before any write to Redis: if the marker or the acknowledgement
                # fails, the entry comes back to this process after the outage as a duplicate.
                handled_here.add(event.id)
                self.telemetry.handled(group, "ok")
                await self._mark_processed(done_key)
            await self._acknowledge(group, entry_id)

    def _handling_key(self, group: str, event_id: str) -> str:
        return f"{self._settings.namespace}:handling:{group}:{event_id}"

    async def _take(self, group: str, event_id: str) -> bool:
        """Whether this consumer may handle the event now: no other consumer of ``group`` is. Held
        for as long as an unacknowledged entry is left to its consumer (``claim_idle_ms``)."""
        taken = await self._redis.set(
            self._handling_key(group, event_id), self._consumer, nx=True, px=self._settings.claim_idle_ms
        )
        return bool(taken)

    async def _deliver_holding_claim(self, group: str, handlers: _Handlers, entry_id: bytes, event: Event) -> None:
        """Delivers ``event``, renewing this consumer's claim (the handling key and the pending
        entry) every half claim time while the handlers run, so that a handler slower than
        ``claim_idle_ms`` is not taken over by another consumer midway. A consumer that dies stops
        renewing, and its entry is taken over as before. Handlers that finish within the first
        half claim time cost a timer, no task and no Redis call."""
        interval = self._settings.claim_idle_ms / 2000
        stopped = asyncio.Event()
        renewals: list[asyncio.Task[None]] = []

        def start_renewing() -> None:
            renewals.append(asyncio.create_task(self._keep_claim(group, entry_id, event.id, stopped, interval)))

        timer = asyncio.get_running_loop().call_later(interval, start_renewing)
        try:
            await handlers.deliver(event, self._settings.handler_timeout_seconds)
        finally:
            timer.cancel()
            # Stopped rather than cancelled: a command cut off midway can spoil its connection.
            # Awaited, so that no renewal lands after the key is dropped for a retry.
            stopped.set()
            for renewal in renewals:
                await renewal

    async def _keep_claim(
        self, group: str, entry_id: bytes, event_id: str, stopped: asyncio.Event, interval: float
    ) -> None:
        while not stopped.is_set():
            try:
                held = await self._renew_claim(
                    keys=[self._settings.stream, self._handling_key(group, event_id)],
                    args=[self._consumer, self._settings.claim_idle_ms, group, entry_id],
                )
            except Exception:  # Redis away: the next renewal may still come in time
                log.warning("could not renew an event claim", extra={"group": group, "event_id": event_id})
            else:
                if not held:  # renewed too late: another consumer may be handling it too
                    log.warning("event claim lost while handling", extra={"group": group, "event_id": event_id})
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), interval)

    async def _mark_processed(self, done_key: str) -> None:
        await self._redis.set(done_key, 1, ex=self._settings.processed_ttl_seconds)

    async def _acknowledge(self, group: str, entry_id: bytes) -> None:
        await self._redis.xack(self._settings.stream, group, entry_id)

    async def _failed(self, group: str, entry_id: bytes, raw: bytes, exc: Exception) -> None:
        pending = await self._redis.xpending_range(self._settings.stream, group, min=entry_id, max=entry_id, count=1)
        deliveries = int(pending[0]["times_delivered"]) if pending else 1
        log.warning("event handler failed", extra={"group": group, "deliveries": deliveries, "error": repr(exc)})
        if deliveries >= self._settings.max_deliveries:
            await self._dead_letter(group, entry_id, raw, exc)
        # Otherwise it stays pending and is claimed again after claim_idle_ms.

    async def _dead_letter(self, group: str, entry_id: bytes, raw: bytes, exc: Exception) -> None:
        await self._redis.xadd(
            self._settings.dead_letter_stream, {"envelope": raw, "group": group, "error": repr(exc)[:500]}
        )
        await self._redis.xack(self._settings.stream, group, entry_id)
        self.telemetry.dead_lettered(group)

    async def close(self) -> None:
        self._stopping = True
        for client_id in list(self._blocking_ids.values()):
            # A reader that was not blocked yet sees _stopping before its next read.
            try:
                await self._redis.client_unblock(client_id)
            except Exception:
                log.debug("could not wake a blocked event reader; it stops within its block time", exc_info=True)
        if self._tasks:
            # Each reader notices within one blocking read at the most.
            _, late = await asyncio.wait(self._tasks, timeout=self._settings.block_ms / 1000 + 2)
            for task in late:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
        await self._redis.aclose()


def load_handler_timeout_seconds(env: Mapping[str, str]) -> float:
    """``TENANTMESH_EVENT_HANDLER_TIMEOUT_SECONDS``: how long one delivery to a group's handlers may take."""
    return EnvReader(env).positive("TENANTMESH_EVENT_HANDLER_TIMEOUT_SECONDS", HANDLER_TIMEOUT_SECONDS)


def create_event_bus(redis_url: str | None, handler_timeout_seconds: float = HANDLER_TIMEOUT_SECONDS) -> EventBus:
    if redis_url:
        return RedisStreamsEventBus(redis_url, StreamSettings(handler_timeout_seconds=handler_timeout_seconds))
    return InProcessEventBus(handler_timeout_seconds=handler_timeout_seconds)
