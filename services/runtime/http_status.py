"""The status of an HTTP exchange with a host the platform does not control, in bounded time.

httpx's timeout bounds each step (connect, each read), not the exchange: a peer that drips its
answer a byte at a time within the timeout held a webhook attempt past the delivery lease and
the registry's health round for as long as it liked, and a huge body was read into memory. Only
the status matters to these callers, so the body is never read.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


async def status_within(client: httpx.AsyncClient, method: str, url: str, seconds: float, **request: Any) -> int:
    """The answer's status, the whole exchange within ``seconds`` (TimeoutError after them;
    httpx's own errors as they come)."""
    async with asyncio.timeout(seconds):
        async with client.stream(method, url, timeout=seconds, **request) as response:
            return response.status_code
