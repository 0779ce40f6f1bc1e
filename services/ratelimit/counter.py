"""Fixed-window counters in Redis, one Lua script per request, and the local over-limit cache.

Every descriptor of a request is counted by one script call (atomic: two edges counting the
same tenant at once never both see the last free slot). A counter's key names its window
(``tm:rl:<descriptor>:<window length>:<window index>``) and expires with it, so nothing ever
resets counters. A descriptor found over its limit is remembered here until its window ends:
later requests naming it are refused without asking Redis, which is what keeps a tenant that
hammers the edge from hammering Redis too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

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
    """Counts hits in windows with the script above."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._script = client.register_script(_COUNT)

    async def count(self, windows: Sequence[Window], hits: int) -> list[int]:
        """Each window's count after adding ``hits``. Raises redis errors (the caller decides
        what an uncountable request gets)."""
        ttls = [int(w.limit.window_seconds) + 1 for w in windows]
        counts = await self._script(keys=[w.key for w in windows], args=[hits, *ttls])
        return [int(c) for c in counts]

    async def close(self) -> None:
        await self._client.aclose()
