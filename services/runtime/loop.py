"""The event loop every service process runs on.

uvloop instead of asyncio's own loop: the platform's hot paths are many small
gRPC calls and database round trips, where the loop's own bookkeeping is a
large share of the CPU. Measured side by side (bench_auth refreshes, same
code, same run): ~0.8 ms of event-loop CPU per refresh instead of ~0.9 to 1.0,
10 to 20 % more refreshes per second. The test suite runs on it too
(tests/conftest.py), so what is tested is what runs.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop: runs ``main`` to completion in a new loop, then closes it."""
    return uvloop.run(main)
