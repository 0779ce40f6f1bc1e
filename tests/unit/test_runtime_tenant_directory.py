from __future__ import annotations

from services.runtime.context import TenantContext, TenantState
from services.runtime.db import TenantDatabase
from services.runtime.events import Event, InProcessEventBus
from services.runtime.tenant_directory import CachedTenantDirectory


class CountingSource:
    """An in-memory tenant directory that counts lookups."""

    def __init__(self) -> None:
        self.tenants: dict[str, TenantContext] = {}
        self.lookups = 0

    async def lookup(self, tenant_id: str) -> TenantContext | None:
        self.lookups += 1
        return self.tenants.get(tenant_id)


def _tenant(state: TenantState) -> TenantContext:
    return TenantContext("t-1", "acme", state, TenantDatabase("default", "tenant_acme"))


async def test_answers_are_cached() -> None:
    source = CountingSource()
    source.tenants["t-1"] = _tenant(TenantState.ACTIVE)
    directory = CachedTenantDirectory(source, ttl_seconds=60)
    assert await directory.lookup("t-1") == _tenant(TenantState.ACTIVE)
    source.tenants["t-1"] = _tenant(TenantState.SUSPENDED)
    assert await directory.lookup("t-1") == _tenant(TenantState.ACTIVE)
    assert source.lookups == 1


async def test_tenant_event_invalidates_the_entry() -> None:
    source = CountingSource()
    source.tenants["t-1"] = _tenant(TenantState.ACTIVE)
    bus = InProcessEventBus()
    directory = CachedTenantDirectory(source, ttl_seconds=60, events=bus)
    await directory.lookup("t-1")
    source.tenants["t-1"] = _tenant(TenantState.SUSPENDED)
    await bus.publish(Event("registry.updated", "t-1"))  # not a tenant event
    assert (await directory.lookup("t-1")) == _tenant(TenantState.ACTIVE)
    await bus.publish(Event("tenant.suspended", "t-1"))
    assert (await directory.lookup("t-1")) == _tenant(TenantState.SUSPENDED)
    assert source.lookups == 2


async def test_unknown_tenants_are_cached_briefly() -> None:
    source = CountingSource()
    directory = CachedTenantDirectory(source, ttl_seconds=60)
    assert await directory.lookup("nope") is None
    assert await directory.lookup("nope") is None
    assert source.lookups == 1


async def test_expired_entries_are_looked_up_again() -> None:
    source = CountingSource()
    source.tenants["t-1"] = _tenant(TenantState.ACTIVE)
    directory = CachedTenantDirectory(source, ttl_seconds=1e-9)
    await directory.lookup("t-1")
    await directory.lookup("t-1")
    assert source.lookups == 2
