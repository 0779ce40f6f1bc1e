"""Fixed-window counters in Redis, handed out in leases: one Lua script call per lease.

A counter's key names its window (``tm:rl:<descriptor>:<window length>:<window index>``) and
expires with it, so nothing ever resets counters. A lease takes up to ``want`` hits of a window
at once, atomically and never past the window's limit (two edges, or two replicas of this
service, never both get the last free slot); the process then spends them without asking Redis
again (services/ratelimit/leases.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from services.ratelimit.limits import Limit

KEY_PREFIX = "tm:rl:"

# KEYS[1]: the counter; ARGV: its limit, the hits wanted, the seconds it lives. Returns the hits
# granted (0 to want, never past the limit) and the count after the grant. INCRBY creates a
# counter at 0; a new one gets its expiry in the same atomic step.
_LEASE = """
local limit = tonumber(ARGV[1])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), limit - count)
if grant <= 0 then
  return {0, count}
end
count = redis.call('INCRBY', KEYS[1], grant)
if count == grant then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {grant, count}
"""


@dataclass(frozen=True)
class Window:
    """The current window of a limit: where its counter lives and when it ends (epoch seconds)."""

    key: str
    limit: Limit
    ends_at: float

    @classmethod
    def current(cls, descriptor: str, limit: Limit, now: float) -> Window:
        index = int(now // limit.window_seconds)
        return cls(
            f"{KEY_PREFIX}{descriptor}:{limit.window_seconds}:{index}",
            limit,
            float((index + 1) * limit.window_seconds),
        )


@dataclass(frozen=True)
class Grant:
    """What a lease got: ``hits`` (0 when the window is spent) and the window's count after it."""

    hits: int
    count: int


# One lease asked for: the window, the hits wanted, and who waits for the answer.
_Ask = tuple[Window, int, "asyncio.Future[Grant]"]


class RedisCounter:
    """Takes leases with the script above, the leases asked for together sent to Redis in one
    pipeline (one round trip, one write).

    While a pipeline is out, new asks queue and go out together as soon as it returns, so under
    load the batches grow instead of the round trips; alone, an ask waits for nothing.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._sha: str | None = None
        self._queue: list[_Ask] = []
        self._flushing = False

    def lease(self, window: Window, want: int) -> asyncio.Future[Grant]:
        """Up to ``want`` hits of ``window``. The future raises redis errors (the caller decides
        what an uncountable request gets)."""
        future: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._queue.append((window, want, future))
        if not self._flushing:
            self._flushing = True
            # A task: it first runs once the asks of this turn of the loop have queued.
            _spawn(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._send(batch)
        finally:
            self._flushing = False

    async def _send(self, batch: list[_Ask]) -> None:
        try:
            results = await self._evaluate(batch)
        except Exception as exc:  # every waiter gets the failure
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller gave up (cancelled)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(Grant(int(result[0]), int(result[1])))

    async def _evaluate(self, batch: list[_Ask]) -> list[Any]:
        for attempt in range(2):
            if self._sha is None:
                self._sha = str(await self._client.script_load(_LEASE))
            pipe = self._client.pipeline(transaction=False)
            for window, want, _ in batch:
                limit = window.limit
                pipe.execute_command(
                    "EVALSHA", self._sha, 1, window.key, limit.requests, want, limit.window_seconds + 1
                )
            results: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(r, NoScriptError) for r in results):
                # Redis lost its scripts (restarted, flushed): load again and send the batch again. Nothing
                # was counted: a missing script fails before it runs.
                self._sha = None
                continue
            return results
        return results

    async def close(self) -> None:
        await self._client.aclose()


_tasks: set[asyncio.Task[None]] = set()


def _spawn(flush: Coroutine[Any, Any, None]) -> None:
    """Runs a flush as a task kept until it finishes (the loop holds tasks only weakly)."""
    task = asyncio.get_running_loop().create_task(flush)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
