"""The remote tenant directory follows the tenants service's address when the resolver moves it,
and moves it itself when the instance it calls is dead and another is known.

Two real gRPC servers stand for two tenants replicas. A directory built while the address named
the first must ask the second once the address names it (the first died and the registry said
so): one that kept the channel it was built with called the dead replica until the process was
restarted (found by tests/faults/test_replica_killed.py). With both instances known (what the
resolver learns from the registry), a call the dead one cannot take goes to the other at once
(services/runtime/failover.py), with no registry involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc
from tenantmesh.type.v1 import database_pb2

from services.runtime.client import ChannelPool
from services.runtime.errors import CommonReason, ErrorDescription
from services.runtime.failover import Failover
from services.runtime.rich_status import trailing_metadata
from services.runtime.tenant_directory import RemoteTenantDirectory


class Replica(tenant_service_pb2_grpc.TenantServiceServicer):
    """Answers every GetTenant with a tenant whose slug names this replica."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created: list[str] = []
        # Set: GetTenant answers UNAVAILABLE itself, as a server whose own dependency is down does.
        self.degraded = False
        # Set: calls hang until the server is killed under them.
        self.stalled = False
        self.write_arrived = asyncio.Event()

    async def CreateTenant(self, request: Any, context: Any) -> tenant_service_pb2.CreateTenantResponse:
        self.created.append(request.request_id)
        self.write_arrived.set()
        if self.stalled:
            await asyncio.sleep(30)
        return tenant_service_pb2.CreateTenantResponse(tenant=tenant_pb2.Tenant(slug=self.name))

    async def GetTenant(self, request: Any, context: Any) -> tenant_service_pb2.GetTenantResponse:
        if self.stalled:
            await asyncio.sleep(30)
        if self.degraded:
            error = ErrorDescription(grpc.StatusCode.UNAVAILABLE, CommonReason.DEPENDENCY_UNAVAILABLE, "database down")
            await context.abort(error.code, error.message, trailing_metadata=trailing_metadata(error))
        tenant = tenant_pb2.Tenant(
            tenant_id=request.tenant_id,
            slug=self.name,
            state=tenant_pb2.TENANT_STATE_ACTIVE,
            database=database_pb2.DatabasePlacement(server="default", database=f"tenant_{self.name}"),
        )
        return tenant_service_pb2.GetTenantResponse(tenant=tenant)


class NoCredentials:
    async def metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


class Replicas:
    def __init__(self) -> None:
        self.addresses: dict[str, str] = {}
        self.servicers: dict[str, Replica] = {}
        self.servers: dict[str, grpc.aio.Server] = {}

    def __getitem__(self, name: str) -> str:
        return self.addresses[name]

    async def kill(self, name: str) -> None:
        # Stopped with no grace: its port refuses connections from now on, as a SIGKILLed process's.
        await self.servers[name].stop(0)


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    replicas = Replicas()
    for name in ("first", "second"):
        server = grpc.aio.server()
        servicer = replicas.servicers[name] = Replica(name)  # type: ignore[abstract]  # two methods only
        tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(servicer, server)
        replicas.addresses[name] = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
        await server.start()
        replicas.servers[name] = server
    yield replicas
    for server in replicas.servers.values():
        await server.stop(0)


async def test_lookups_go_where_the_address_points_now(replicas: Replicas) -> None:
    addresses = {"tenants": replicas["first"]}
    pool = ChannelPool()
    directory = RemoteTenantDirectory(lambda: pool.get(addresses["tenants"], "tenants"), NoCredentials())
    try:
        first = await directory.lookup("0190f0a0-0000-7000-8000-000000000001")
        assert first is not None
        assert first.slug == "first"
        addresses["tenants"] = replicas["second"]  # what the resolver does
        second = await directory.lookup("0190f0a0-0000-7000-8000-000000000001")
        assert second is not None
        assert second.slug == "second"
    finally:
        await pool.close()


TENANT_ID = "0190f0a0-0000-7000-8000-000000000001"


@dataclass
class Caller:
    """A process's view of the tenants service: its address and a pool with failover."""

    addresses: dict[str, str]
    pool: ChannelPool

    def stub(self) -> Any:
        return tenant_service_pb2_grpc.TenantServiceStub(self.pool.get(self.addresses["tenants"], "tenants"))


@asynccontextmanager
async def caller_knowing(*instances: str) -> AsyncIterator[Caller]:
    """Knowing ``instances`` (as the resolver learns them from the registry), pointed at the first."""
    addresses = {"tenants": instances[0]}
    failover = Failover(addresses)
    failover.learn("tenants", instances)
    caller = Caller(addresses, ChannelPool(failover=failover))
    try:
        yield caller
    finally:
        await caller.pool.close()


@pytest.fixture
async def both_known(replicas: Replicas) -> AsyncIterator[Caller]:
    async with caller_knowing(replicas["first"], replicas["second"]) as caller:
        yield caller


async def unavailable(call: Awaitable[Any]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_dead_instance_is_left_at_the_first_call(replicas: Replicas, both_known: Caller) -> None:
    directory = RemoteTenantDirectory(
        lambda: both_known.pool.get(both_known.addresses["tenants"], "tenants"), NoCredentials()
    )
    first = await directory.lookup(TENANT_ID)
    assert first is not None
    assert first.slug == "first"
    await replicas.kill("first")
    # The call that finds it dead is answered by the other, and every later call goes there.
    second = await directory.lookup(TENANT_ID)
    assert second is not None
    assert second.slug == "second"
    assert both_known.addresses["tenants"] == replicas["second"]


async def test_a_write_is_sent_again_only_when_it_never_left(replicas: Replicas, both_known: Caller) -> None:
    stub = both_known.stub()
    await stub.CreateTenant(tenant_service_pb2.CreateTenantRequest(request_id="r1"))
    await replicas.kill("first")
    # Connection refused: the dead instance cannot have seen it, so the other one takes it, once.
    response = await stub.CreateTenant(tenant_service_pb2.CreateTenantRequest(request_id="r2"))
    assert response.tenant.slug == "second"
    assert replicas.servicers["first"].created == ["r1"]
    assert replicas.servicers["second"].created == ["r2"]


async def test_calls_cut_in_flight_only_reads_are_sent_again(replicas: Replicas, both_known: Caller) -> None:
    replicas.servicers["first"].stalled = True
    stub = both_known.stub()
    read = stub.GetTenant(tenant_service_pb2.GetTenantRequest(tenant_id=TENANT_ID))
    write = stub.CreateTenant(tenant_service_pb2.CreateTenantRequest(request_id="cut"))
    await replicas.servicers["first"].write_arrived.wait()
    await replicas.kill("first")
    assert (await read).tenant.slug == "second"
    # The dead instance had the write: sent again, it could be done twice.
    await unavailable(write)
    assert replicas.servicers["second"].created == []
    assert both_known.addresses["tenants"] == replicas["second"]


async def test_a_servers_own_unavailable_does_not_move_the_address(replicas: Replicas, both_known: Caller) -> None:
    replicas.servicers["first"].degraded = True
    await unavailable(both_known.stub().GetTenant(tenant_service_pb2.GetTenantRequest(tenant_id=TENANT_ID)))
    assert both_known.addresses["tenants"] == replicas["first"]


async def test_with_no_other_instance_the_failure_stands(replicas: Replicas) -> None:
    async with caller_knowing(replicas["first"]) as caller:
        stub = caller.stub()
        await replicas.kill("first")
        await unavailable(stub.GetTenant(tenant_service_pb2.GetTenantRequest(tenant_id=TENANT_ID)))
        assert caller.addresses["tenants"] == replicas["first"]
