"""Fixed-window counters in Redis, one Lua script per request, and the local over-limit cache.

Every descriptor of a request is counted by one script call (atomic: two edges counting the
same tenant at once never both see the last free slot). A counter's key names its window
(``tm:rl:<descriptor>:<window length>:<window index>``) and expires with it, so nothing ever
resets counters. A descriptor found over its limit is remembered here until its window ends:
later requests naming it are refused without asking Redis, which is what keeps a tenant that
hammers the edge from hammering Redis too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from services.ratelimit.limits import Limit

KEY_PREFIX = "tm:rl:"

# KEYS: one counter per descriptor; ARGV[1]: hits; ARGV[1 + i]: seconds KEYS[i] lives.
# INCRBY creates a counter at 0; a new one gets its expiry in the same atomic step.
_COUNT = """
local hits = tonumber(ARGV[1])
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, hits)
  if count == hits then
    redis.call('EXPIRE', key, ARGV[i + 1])
  end
  counts[i] = count
end
return counts
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


class OverLimitCache:
    """Windows known to be exhausted, until they end (bounded: expired entries go first).

    A window is known exhausted under the limit it was counted against: a tenant whose plan
    is raised meanwhile is asked about again."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._ends: dict[tuple[str, Limit], float] = {}
        self._max = max_entries
        self._clock = clock

    def __contains__(self, window: Window) -> bool:
        ends = self._ends.get((window.key, window.limit))
        if ends is None:
            return False
        if ends <= self._clock():
            del self._ends[window.key, window.limit]
            return False
        return True

    def add(self, window: Window) -> None:
        if len(self._ends) >= self._max:
            now = self._clock()
            for key in [k for k, ends in self._ends.items() if ends <= now]:
                del self._ends[key]
            if len(self._ends) >= self._max:  # all live: forget the oldest
                del self._ends[next(iter(self._ends))]
        self._ends[window.key, window.limit] = window.ends_at

    def __len__(self) -> int:
        return len(self._ends)


class RedisCounter:
    """Counts hits in windows with the script above: one script call per request, the calls of
    requests that arrive together sent to Redis in one pipeline (one round trip, one write).

    While a pipeline is out, new requests queue and go out together as soon as it returns, so
    under load the batches grow instead of the round trips; alone, a request waits for nothing.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._sha: str | None = None
        self._queue: list[tuple[list[str], list[int], asyncio.Future[list[int]]]] = []
        self._flushing = False

    async def count(self, windows: Sequence[Window], hits: int) -> list[int]:
        """Each window's count after adding ``hits``. Raises redis errors (the caller decides
        what an uncountable request gets)."""
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        ttls = [int(w.limit.window_seconds) + 1 for w in windows]
        self._queue.append(([w.key for w in windows], [hits, *ttls], future))
        if not self._flushing:
            self._flushing = True
            # A task: it first runs once the requests of this turn of the loop have queued.
            _spawn(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._send(batch)
        finally:
            self._flushing = False

    async def _send(self, batch: list[tuple[list[str], list[int], asyncio.Future[list[int]]]]) -> None:
        try:
            results = await self._evaluate(batch)
        except Exception as exc:  # every waiter gets the failure; count() raises it
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
                future.set_result([int(c) for c in result])

    async def _evaluate(self, batch: list[tuple[list[str], list[int], asyncio.Future[list[int]]]]) -> list[Any]:
        for attempt in range(2):
            if self._sha is None:
                self._sha = str(await self._client.script_load(_COUNT))
            pipe = self._client.pipeline(transaction=False)
            for keys, args, _ in batch:
                pipe.execute_command("EVALSHA", self._sha, len(keys), *keys, *args)
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
