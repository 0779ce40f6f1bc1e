"""The event loop every service process runs on: asyncio's own.

uvloop was tried (2026-11-26): ~10 % more refreshes per second in side-by-side
runs, but a child process it spawned (Envoy, wrk) was intermittently killed
by SIGSEGV before it ran, in a parent that has gRPC's threads; libuv spawns
differently from CPython's subprocess module, which asyncio's loop uses and
which never showed this. A mesh that sometimes fails to start its edge costs
more than 10 %, so processes stay on asyncio's loop. One place to change it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs ``main`` to completion in a new event loop, then closes it."""
    return asyncio.run(main)
