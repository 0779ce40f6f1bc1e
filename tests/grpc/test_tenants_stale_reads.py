"""A read that was under way while the tenant changed must not be kept in a cache afterwards.

GetTenant's views and the tenant directory drop a tenant's entry when it changes; a read that
started before the change and finishes after the drop would put the old state back, and a
suspended tenant would be served as active for a cache lifetime (the directory's 30 s, and
every other service's directory asking GetTenant meanwhile for as long again)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.tenants.manager import LocalTenantDirectory, TenantManager
from tests.grpc.conftest import TenantWorld
from tests.support.errors import assert_error


class Gate:
    """Holds the first call of a patched method after it has read, until released."""

    def __init__(self) -> None:
        self.read = asyncio.Event()
        self.release = asyncio.Event()
        self._armed = True

    def hold(self, monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> None:
        original: Callable[..., Awaitable[Any]] = getattr(owner, name)

        async def held(instance: Any, *args: Any, **kwargs: Any) -> Any:
            result = await original(instance, *args, **kwargs)
            if self._armed:
                self._armed = False
                self.read.set()
                await self.release.wait()
            return result

        monkeypatch.setattr(owner, name, held)


async def _suspend_while_read(world: TenantWorld, gate: Gate, read: Awaitable[Any], tenant_id: str) -> None:
    """Suspends the tenant between ``read``'s database read and the end of the call."""
    task = asyncio.ensure_future(read)
    await asyncio.wait_for(gate.read.wait(), 10)
    await world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenant_id))
    gate.release.set()
    await task


async def test_get_tenant_does_not_keep_a_view_read_before_a_change(
    world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await world.create(world.slug("view"))
    gate = Gate()
    gate.hold(monkeypatch, TenantManager, "get")
    await _suspend_while_read(world, gate, world.get(tenant.tenant_id), tenant.tenant_id)
    assert (await world.get(tenant.tenant_id)).state == tenant_pb2.TENANT_STATE_SUSPENDED


async def test_the_directory_does_not_keep_a_state_read_before_a_change(
    world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await world.create(world.slug("dir"))
    current = pb.GetCurrentTenantRequest()
    metadata = [("x-tenant-id", tenant.tenant_id)]
    gate = Gate()
    gate.hold(monkeypatch, LocalTenantDirectory, "lookup")
    await _suspend_while_read(world, gate, world.tenants.GetCurrentTenant(current, metadata=metadata), tenant.tenant_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await world.tenants.GetCurrentTenant(current, metadata=metadata)
    assert_error(refused.value, grpc.StatusCode.FAILED_PRECONDITION, "TENANT_SUSPENDED")
