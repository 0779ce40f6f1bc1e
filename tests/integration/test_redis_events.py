"""Events over Redis: what one process publishes, another process's caches see."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.app import Runtime
from services.runtime.events import Event, RedisStreamsEventBus
from tests.support.mesh import mesh_settings, tenants_service
from tests.support.open_access import OpenAccess


async def test_event_published_by_one_bus_reaches_the_other(redis_url: str) -> None:
    publisher, subscriber = RedisStreamsEventBus(redis_url), RedisStreamsEventBus(redis_url)
    received: asyncio.Queue[Event] = asyncio.Queue()

    async def on_event(event: Event) -> None:
        await received.put(event)

    subscriber.subscribe("tenant.", on_event)
    await publisher.start()
    await subscriber.start()
    try:
        await asyncio.sleep(0.1)  # let the subscription settle
        await publisher.publish(Event("service.registered", None))  # other prefix: not delivered
        sent = Event("tenant.suspended", "t-1", {"why": "test"})
        await publisher.publish(sent)
        got = await asyncio.wait_for(received.get(), timeout=2)
        assert (got.id, got.type, got.tenant_id, got.payload) == (sent.id, sent.type, "t-1", {"why": "test"})
        assert received.empty()
    finally:
        await publisher.close()
        await subscriber.close()


async def test_suspension_reaches_another_process_cache_within_a_second(
    db_backend_url: str, redis_url: str, tmp_path: Path
) -> None:
    """A second runtime (as another service process would) caches the tenant with a long TTL;
    the tenant event over Redis must still make it see the suspension immediately."""
    env = {"REDIS_URL": redis_url, "TENANTMESH_TENANT_CACHE_TTL_SECONDS": "3600"}
    async with tenants_service(db_backend_url, tmp_path, env=env) as mesh:
        created = await mesh.tenants.CreateTenant(
            pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=f"redis-{int(time.time() * 1000) % 10**9}"))
        )
        tenant_id = created.tenant.tenant_id
        other_settings = mesh_settings(
            db_backend_url,
            tmp_path / "other",
            REDIS_URL=redis_url,
            TENANTMESH_TENANT_CACHE_TTL_SECONDS="3600",
            TENANTMESH_TENANTS_ADDR=f"127.0.0.1:{mesh.port}",
        )
        other = await Runtime.open(other_settings, authentication=OpenAccess())
        try:
            directory = other.tenant_directory()
            first = await directory.lookup(tenant_id)
            assert first is not None
            assert first.state == "ACTIVE"
            await asyncio.sleep(0.1)
            await mesh.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenant_id))
            deadline = time.monotonic() + 1.0
            state: str = first.state
            while time.monotonic() < deadline:
                seen = await directory.lookup(tenant_id)
                state = seen.state if seen else "MISSING"
                if state == "SUSPENDED":
                    break
                await asyncio.sleep(0.02)
            assert state == "SUSPENDED"
        finally:
            await other.close()
            await mesh.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant_id))
