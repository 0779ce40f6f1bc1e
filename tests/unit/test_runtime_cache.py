"""The runtime's one cache (services/runtime/cache.py): bounded, expiring, dropped by events, counted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.runtime.cache import MISS, Cache, all_caches, tenant_of
from services.runtime.events import Event, InProcessEventBus


@dataclass
class FakeClock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_lives_for_its_ttl() -> None:
    clock = FakeClock()
    cache: Cache[str, int] = Cache("t", ttl_seconds=5, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2, ttl_seconds=1)
    clock.now += 2
    assert cache.get("a") == 1
    assert cache.get("b") is MISS
    clock.now += 3
    assert cache.get("a") is MISS
    assert len(cache) == 0


def test_none_is_a_value_and_a_miss_is_not() -> None:
    cache: Cache[str, int | None] = Cache("t", ttl_seconds=5)
    assert cache.get("x") is MISS
    cache.put("x", None)
    assert cache.get("x") is None


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: Cache[str, int] = Cache("t", ttl_seconds=60, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # b is now the least recently used
    cache.put("c", 3)
    assert cache.get("b") is MISS
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert cache.stats.evictions == 1


def test_hits_and_misses_are_counted() -> None:
    cache: Cache[str, int] = Cache("counted", ttl_seconds=60)
    cache.get("a")
    cache.put("a", 1)
    cache.get("a")
    cache.get("a")
    stats = cache.stats
    assert (stats.name, stats.size, stats.hits, stats.misses) == ("counted", 1, 2, 1)
    assert stats in list(all_caches())


async def test_events_drop_the_entry_they_name_or_everything() -> None:
    bus = InProcessEventBus()
    by_tenant: Cache[str, str] = Cache("t", ttl_seconds=60)
    everything: Cache[str, str] = Cache("t", ttl_seconds=60)
    by_tenant.drop_on(bus, "tenant.", tenant_of)
    everything.drop_on(bus, "service.")
    for cache in (by_tenant, everything):
        cache.put("t-1", "one")
        cache.put("t-2", "two")
    await bus.publish(Event("tenant.suspended", "t-1"))
    await bus.publish(Event("registry.other", "t-2"))
    assert (by_tenant.get("t-1"), by_tenant.get("t-2")) == (MISS, "two")
    await bus.publish(Event("service.updated", None))
    assert len(everything) == 0


def test_dropping_forgets_the_key_even_when_the_block_fails() -> None:
    cache: Cache[str, int] = Cache("t", ttl_seconds=60)
    cache.put("a", 1)
    with pytest.raises(RuntimeError), cache.dropping("a"):
        raise RuntimeError("the change failed halfway")
    assert cache.get("a") is MISS


def test_a_cache_holds_something() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Cache("t", ttl_seconds=1, max_entries=0)


def test_a_value_read_across_a_drop_is_not_kept() -> None:
    cache: Cache[str, str] = Cache("t", ttl_seconds=5)
    read_at = cache.ticket()
    cache.pop("a")  # the source changed while "a" was being read
    cache.put("a", "old", read_at=read_at)
    assert cache.get("a") is MISS
    read_at = cache.ticket()
    cache.put("a", "new", read_at=read_at)
    assert cache.get("a") == "new"
