"""Background loops of a process: started detached from any call, stopped with a bound."""

from __future__ import annotations

import asyncio

# Shutdown must finish: a loop that ignores its cancellation is left behind after this long.
STOP_TIMEOUT_SECONDS = 5.0


async def stop_background(task: asyncio.Task[None] | None) -> None:
    """Cancels a background loop and waits for it to end, at most STOP_TIMEOUT_SECONDS."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
