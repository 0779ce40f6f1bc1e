"""Background loops of a process: started detached from any call, stopped with a bound."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

# Shutdown must finish: a loop that ignores its cancellation is left behind after this long.
STOP_TIMEOUT_SECONDS = 5.0


async def stop_background(task: asyncio.Task[None] | None) -> None:
    """Cancels a background loop and waits for it to end, at most STOP_TIMEOUT_SECONDS."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)


class Periodic:
    """A round of work repeated in the background every ``interval_seconds`` until stopped.

    A round that fails is logged with its traceback and the next one runs as planned: a loop
    that kept a process's housekeeping (sweeps, purges) must outlive a database blip.
    """

    def __init__(
        self,
        name: str,
        round_of_work: Callable[[], Awaitable[object]],
        interval_seconds: float,
        log: logging.Logger,
    ) -> None:
        self._name = name
        self._round = round_of_work
        self._interval = interval_seconds
        self._log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def _loop(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:
                self._log.exception("%s: a round failed; trying again next round", self._name)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        await stop_background(self._task)
        self._task = None
