"""A progress line for long operations: one line on standard error, rewritten in place.

Only for a person watching: when standard error is not a terminal (a pipe, a log, CI) or the
output is for a program (--json), nothing is written, so what a script reads never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

# Back to the line's start and clear it: the next text replaces the last.
_REWRITE = "\r\x1b[2K"
TICK_SECONDS = 0.5


class Progress:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self._stream.isatty()
        self._shown = False

    def show(self, text: str) -> None:
        if self.enabled:
            self._stream.write(_REWRITE + text)
            self._stream.flush()
            self._shown = True

    def clear(self) -> None:
        """Removes the line, so results printed next start on a clean one."""
        if self._shown:
            self._stream.write(_REWRITE)
            self._stream.flush()
            self._shown = False

    @contextlib.asynccontextmanager
    async def waiting(self, text: str) -> AsyncIterator[None]:
        """``text`` with the seconds waited so far, ticking until the block ends (a call with no
        progress of its own to report, such as a tenant's provisioning)."""
        if not self.enabled:
            yield
            return
        started = time.monotonic()

        async def tick() -> None:
            while True:
                self.show(f"{text} ({time.monotonic() - started:.0f} s)")
                await asyncio.sleep(TICK_SECONDS)

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.clear()
