"""A consumer group of the test's own on the platform's event stream.

It joins before the load starts, like any service's group, and counts how often each event
reached its handler: after the bus's deduplication every event must arrive exactly once,
however the fault made the relay or the stream retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# Imported for their payload types: an event decodes only into a type this process knows
# (services/runtime/events.py); the checker reads the submission id and the enabled service.
from tenantmesh.forms.v1 import events_pb2 as _forms_events  # noqa: F401
from tenantmesh.registry.v1 import events_pb2 as _registry_events  # noqa: F401

from services.runtime.events import Event, RedisStreamsEventBus, StreamSettings

GROUP = "faults-checker"


@dataclass
class EventObserver:
    redis_url: str
    handled: Counter[str] = field(default_factory=Counter)
    events: dict[str, Event] = field(default_factory=dict)
    _bus: RedisStreamsEventBus | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        # Claims after 1 s: a delivery this process lost to a Redis outage comes back quickly.
        self._bus = RedisStreamsEventBus(self.redis_url, StreamSettings(claim_idle_ms=1_000))
        self._bus.subscribe_group(GROUP, "", self._on_event)
        await self._bus.start()

    async def _on_event(self, event: Event) -> None:
        self.handled[event.id] += 1
        self.events[event.id] = event
        self._arrived.set()

    def of_type(self, event_type: str) -> list[Event]:
        return [e for e in self.events.values() if e.type == event_type]

    async def wait_until(self, covered: Callable[[], bool], within: float) -> None:
        """Until ``covered()`` holds for the events received so far, or ``within`` seconds passed."""
        deadline = time.monotonic() + within
        while True:
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if covered() or remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.close()
