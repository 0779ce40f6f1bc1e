"""Refreshes the gauges that need a query, every few seconds, on the event loop.

A probe is an async function that reads something (a COUNT, a pool's counters, a stream's
lag) and sets gauges. Probes run one after the other; one that fails is logged and the others
still run, so a database that is down does not freeze the Redis gauges, say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("tenantmesh.metrics")

Probe = Callable[[], Awaitable[None]]


class Sampler:
    def __init__(self, interval_seconds: float = 10.0) -> None:
        self._interval = interval_seconds
        self._probes: list[tuple[str, Probe]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, name: str, probe: Probe) -> None:
        self._probes.append((name, probe))

    async def sample_once(self) -> None:
        for name, probe in self._probes:
            try:
                await probe()
            except Exception:
                log.warning("metrics probe %s failed", name, exc_info=True)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="metrics-sampler")

    async def _loop(self) -> None:
        while True:
            await self.sample_once()
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
