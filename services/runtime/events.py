"""Platform events: what changed, for the services that react to it.

Two buses share one interface: in-process (the embedded single-process mode)
and Redis pub/sub (services in separate processes). Delivery is
best-effort here; consumers must tolerate a missed event, which is why every
cache fed by events also has a TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import redis.asyncio as redis

from services.runtime.context import principal_var, request_id_var
from services.runtime.ids import uuid7

log = logging.getLogger("tenantmesh.events")

CHANNEL = "tenantmesh.events"


def _current_actor() -> str:
    principal = principal_var.get()
    return principal.subject if principal is not None else "system"


@dataclass(frozen=True)
class Event:
    type: str  # e.g. "tenant.suspended"
    tenant_id: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=uuid7)
    time: float = field(default_factory=time.time)
    # Who caused it and in which call: taken from the publishing call's context.
    actor: str = field(default_factory=_current_actor)
    request_id: str = field(default_factory=request_id_var.get)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        data = json.loads(raw)
        return cls(
            type=str(data["type"]),
            tenant_id=data.get("tenant_id"),
            payload=dict(data.get("payload") or {}),
            id=str(data["id"]),
            time=float(data["time"]),
            actor=str(data.get("actor", "system")),
            request_id=str(data.get("request_id", "")),
        )


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...
    def subscribe(self, type_prefix: str, handler: Handler) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...


class _Subscribers:
    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []

    def add(self, type_prefix: str, handler: Handler) -> None:
        self._handlers.append((type_prefix, handler))

    async def deliver(self, event: Event) -> None:
        for prefix, handler in self._handlers:
            if event.type.startswith(prefix):
                try:
                    await handler(event)
                except Exception:
                    log.exception("event handler failed", extra={"event_type": event.type, "event_id": event.id})


class InProcessEventBus:
    def __init__(self) -> None:
        self._subscribers = _Subscribers()

    async def publish(self, event: Event) -> None:
        await self._subscribers.deliver(event)

    def subscribe(self, type_prefix: str, handler: Handler) -> None:
        self._subscribers.add(type_prefix, handler)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisEventBus:
    def __init__(self, url: str) -> None:
        self._redis = redis.from_url(url)
        self._subscribers = _Subscribers()
        self._listener: asyncio.Task[None] | None = None

    async def publish(self, event: Event) -> None:
        await self._redis.publish(CHANNEL, event.to_json())

    def subscribe(self, type_prefix: str, handler: Handler) -> None:
        self._subscribers.add(type_prefix, handler)

    async def start(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        self._listener = asyncio.create_task(self._listen(pubsub), name="redis-event-listener")

    async def _listen(self, pubsub: Any) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    await self._subscribers.deliver(Event.from_json(message["data"]))
        finally:
            await pubsub.aclose()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()


def create_event_bus(redis_url: str | None) -> EventBus:
    return RedisEventBus(redis_url) if redis_url else InProcessEventBus()
