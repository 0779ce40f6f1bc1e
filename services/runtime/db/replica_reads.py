"""Which tenant reads may go to a read replica, and who must read their own writes.

An RPC declared ``read_only`` in its access policy marks its call (``read_only_call``);
its tenant reads go to the replica of the tenant's server when one is configured. A
caller who wrote to a tenant database is pinned to that database's primary for a
short window, longer than the replica's usual lag, so their next reads see their
writes. A pin is kept in the process that wrote and, when the processes share Redis, in
Redis too (services.runtime.db.shared_pins), so a read that another replica of the
service answers within the window also goes to the primary.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from contextvars import ContextVar
from typing import Protocol

# Set by the runtime for every call from its RPC's access policy (services.runtime.access).
read_only_call: ContextVar[bool] = ContextVar("tenantmesh_read_only_call", default=False)

DEFAULT_PIN_SECONDS = 5.0
MAX_PINS = 100_000


class SharedPins(Protocol):
    """Pins every process of the mesh sees (services.runtime.db.shared_pins)."""

    async def add(self, key: str, seconds: float) -> None: ...

    async def holds(self, key: str) -> bool: ...

    async def close(self) -> None: ...


class PrimaryPins:
    """(database, caller) pairs that read from the primary until their pin runs out."""

    def __init__(self, seconds: float, max_pins: int = MAX_PINS, shared: SharedPins | None = None) -> None:
        if seconds < 0 or max_pins < 1:
            raise ValueError("a pin lasts a non-negative time, and at least one is kept")
        self._seconds = seconds
        self._max = max_pins
        self._until: OrderedDict[tuple[str, str, str], float] = OrderedDict()
        self.shared = shared

    async def pin(self, server: str, database: str, caller: str) -> None:
        """Pins ``caller`` here and, awaited before the write's answer leaves, where others see it."""
        key = (server, database, caller)
        self._until.pop(key, None)
        self._until[key] = time.monotonic() + self._seconds
        while len(self._until) > self._max:
            # The oldest pin is the one closest to running out anyway.
            self._until.popitem(last=False)
        if self.shared is not None:
            await self.shared.add(_shared_key(key), self._seconds)

    async def pinned(self, server: str, database: str, caller: str) -> bool:
        key = (server, database, caller)
        if self._pinned_here(key):
            return True
        # Not written through this process: another replica of the service may have taken it.
        return self.shared is not None and await self.shared.holds(_shared_key(key))

    def _pinned_here(self, key: tuple[str, str, str]) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= time.monotonic():
            del self._until[key]
            return False
        return True


def _shared_key(key: tuple[str, str, str]) -> str:
    server, database, caller = key
    return f"tenantmesh:primary-pin:{server}/{database}/{caller}"
