"""The one in-process cache: bounded, entries expire, events drop them, hits and misses are counted.

Every answer a process keeps in memory (tenant states, GetTenant views, user
profiles, Resolve answers) goes through :class:`Cache`, so each evicts the same
way: least recently used beyond ``max_entries``, and an entry is gone once its
time to live has passed. A cache that mirrors what other processes may change
is also dropped by the events announcing those changes (:meth:`Cache.drop_on`);
the time to live bounds staleness should an event be lost.
"""

from __future__ import annotations

import contextlib
import enum
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from services.runtime.events import Event, EventBus

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Miss(enum.Enum):
    """What :meth:`Cache.get` returns for a key it does not hold (a cached value may be None)."""

    MISS = enum.auto()


MISS = Miss.MISS

_ALL: weakref.WeakSet[Cache[object, object]] = weakref.WeakSet()


@dataclass(frozen=True)
class CacheStats:
    name: str
    size: int
    hits: int
    misses: int
    evictions: int


class Cache(Generic[K, V]):
    """A bounded LRU of values that expire ``ttl_seconds`` after they were put (or per put)."""

    def __init__(
        self,
        name: str,
        *,
        ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl_seconds < 0:
            raise ValueError("a cache holds at least one entry, for a non-negative time")
        self.name = name
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        # Bumped by every drop (pop, drop_where, clear): see ticket().
        self._drops = 0
        _ALL.add(self)  # type: ignore[arg-type]

    def get(self, key: K) -> V | Literal[Miss.MISS]:
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > self._clock():
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            del self._entries[key]
        self.misses += 1
        return MISS

    def ticket(self) -> int:
        """Taken before reading a value from its source, handed to :meth:`put` as ``read_at``."""
        return self._drops

    def put(self, key: K, value: V, ttl_seconds: float | None = None, *, read_at: int | None = None) -> None:
        """Keeps ``value``; with ``read_at`` (a :meth:`ticket`) only if nothing was dropped since.

        A value read while its entry was being dropped (the source changed) may be the old one,
        and putting it after the drop would keep it for a whole time to live: such a value is
        answered but not kept. Drops are counted for the whole cache, not per key, which costs
        only the caching of reads that were under way during some drop.
        """
        if read_at is not None and read_at != self._drops:
            return
        expires = self._clock() + (self._ttl if ttl_seconds is None else ttl_seconds)
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
            self.evictions += 1

    def pop(self, key: K) -> None:
        self._drops += 1
        self._entries.pop(key, None)

    @contextlib.contextmanager
    def dropping(self, key: K) -> Iterator[None]:
        """Drops ``key`` after the block, also when it fails: a failed change may have written."""
        try:
            yield
        finally:
            self.pop(key)

    def drop_where(self, stale: Callable[[K, V], bool]) -> None:
        self._drops += 1
        for key in [k for k, (_, v) in self._entries.items() if stale(k, v)]:
            del self._entries[key]

    def clear(self) -> None:
        self._drops += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def drop_on(self, events: EventBus, type_prefix: str, key_of: Callable[[Event], K | None] | None = None) -> None:
        """Every event of ``type_prefix`` drops the entry ``key_of(event)`` names (None: nothing),
        or, without ``key_of``, the whole cache."""

        async def drop(event: Event) -> None:
            if key_of is None:
                self.clear()
                return
            key = key_of(event)
            if key is not None:
                self.pop(key)

        events.subscribe(type_prefix, drop)

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self.name, len(self._entries), self.hits, self.misses, self.evictions)


def tenant_of(event: Event) -> str | None:
    """``key_of`` for caches keyed by tenant id."""
    return event.tenant_id


def all_caches() -> Iterator[CacheStats]:
    """The counters of every cache of this process, for logs and metrics."""
    return (cache.stats for cache in list(_ALL))
