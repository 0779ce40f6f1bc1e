"""Instances, leases and discovery over gRPC on the real platform: register,
heartbeat, expiry, resolve, list, and the Watch stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from tenantmesh.registry.v1 import instance_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb

from services.registry.models import InstanceRow
from services.runtime import clock
from tests.support.errors import error_info, expect_error, violation_fields
from tests.support.registry import (
    RegistryWorld,
    Stubs,
    SwitchProbe,
    eventually,
    http_service,
    registry_world,
    unique_name,
)

HEALTHY = instance_pb2.HEALTH_STATE_HEALTHY


@pytest.fixture
def probe() -> SwitchProbe:
    return SwitchProbe()


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path, probe: SwitchProbe) -> AsyncIterator[RegistryWorld]:
    async with registry_world(db_backend_url, tmp_path, probe=probe) as started:
        yield started


async def two_versions(world: RegistryWorld) -> str:
    name = unique_name()
    versions = [service_pb2.ServiceVersion(version="1.0.0"), service_pb2.ServiceVersion(version="1.1.0")]
    await world.register(http_service(name, versions=versions))
    return name


async def register(admin: Stubs, service: str, address: str, version: str = "1.0.0", ttl: int = 0) -> Any:
    response = await admin.instances.RegisterInstance(
        pb.RegisterInstanceRequest(
            service=service,
            instance=instance_pb2.Instance(address=address, version=version, metadata={"zone": "a"}),
            ttl_seconds=ttl,
        )
    )
    return response.instance


async def health_of(admin: Stubs, instance_id: str) -> int:
    listed = await admin.instances.ListInstances(pb.ListInstancesRequest())
    return next((i.health for i in listed.instances if i.instance_id == instance_id), -1)


async def test_register_heartbeat_list_and_deregister(world: RegistryWorld, probe: SwitchProbe) -> None:
    admin = await world.admin()
    name = await two_versions(world)
    first = await register(admin, name, "https://a.example.test", ttl=20)
    assert first.health == instance_pb2.HEALTH_STATE_UNKNOWN
    assert first.lease_expire_time.ToSeconds() - first.register_time.ToSeconds() == 20
    assert dict(first.metadata) == {"zone": "a"}

    world.clock.advance(10)
    renewed = (await admin.instances.Heartbeat(pb.HeartbeatRequest(instance_id=first.instance_id))).instance
    assert renewed.lease_expire_time.ToSeconds() > first.lease_expire_time.ToSeconds()

    # The same address again takes the instance over (a restarted process).
    again = await register(admin, name, "https://a.example.test", version="1.1.0")
    assert (again.instance_id, again.version) == (first.instance_id, "1.1.0")
    second = await register(admin, name, "https://b.example.test")
    listed = await admin.instances.ListInstances(pb.ListInstancesRequest(services=[name]))
    assert [i.instance_id for i in listed.instances] == [first.instance_id, second.instance_id]
    by_version = await admin.instances.ListInstances(pb.ListInstancesRequest(services=[name], version="1.0.0"))
    assert [i.instance_id for i in by_version.instances] == [second.instance_id]
    page = await admin.instances.ListInstances(pb.ListInstancesRequest(services=[name], page_size=1))
    assert page.next_page_token

    await admin.instances.DeregisterInstance(pb.DeregisterInstanceRequest(instance_id=second.instance_id))
    await expect_error(
        admin.instances.DeregisterInstance(pb.DeregisterInstanceRequest(instance_id=second.instance_id)),
        grpc.StatusCode.NOT_FOUND,
        "INSTANCE_NOT_FOUND",
    )
    await expect_error(
        admin.instances.Heartbeat(pb.HeartbeatRequest(instance_id=second.instance_id)),
        grpc.StatusCode.NOT_FOUND,
        "LEASE_NOT_FOUND",
    )


async def test_heartbeat_after_the_lease_expired_is_not_found(world: RegistryWorld) -> None:
    admin = await world.admin()
    name = await two_versions(world)
    instance = await register(admin, name, "https://a.example.test", ttl=5)
    world.clock.advance(6)
    error = await expect_error(
        admin.instances.Heartbeat(pb.HeartbeatRequest(instance_id=instance.instance_id)),
        grpc.StatusCode.NOT_FOUND,
        "LEASE_NOT_FOUND",
    )
    assert error_info(error).metadata["instance_id"] == instance.instance_id
    # Gone for every reader at once, and swept by the checker soon after.
    listed = await admin.instances.ListInstances(pb.ListInstancesRequest(services=[name]))
    assert list(listed.instances) == []
    await eventually(lambda: _row_gone(world, instance.instance_id))
    # The instance registers again, as the NOT_FOUND tells it to.
    back = await register(admin, name, "https://a.example.test", ttl=5)
    assert back.instance_id != instance.instance_id


@pytest.mark.parametrize(
    ("registrar_offset", "judge_offset"), [(0, 120), (-120, 0)], ids=["judge-ahead", "registrar-behind"]
)
async def test_instance_leases_hold_across_a_two_minute_clock_skew(
    world: RegistryWorld, monkeypatch: pytest.MonkeyPatch, registrar_offset: int, judge_offset: int
) -> None:
    # Leases are written and judged on the database's clock: a replica 2 minutes ahead (reads,
    # heartbeats, the checker's sweep), or one 2 minutes behind registering the instance, must
    # not see a live instance's lease (30 s) as run out.
    admin = await world.admin()
    name = await two_versions(world)
    monkeypatch.setattr(clock, "_OFFSET", timedelta(seconds=registrar_offset))
    instance = await register(admin, name, "https://a.example.test", ttl=30)
    monkeypatch.setattr(clock, "_OFFSET", timedelta(seconds=judge_offset))
    assert await world.app.instances.sweep() == 0
    listed = await admin.instances.ListInstances(pb.ListInstancesRequest(services=[name]))
    assert [i.instance_id for i in listed.instances] == [instance.instance_id]
    await admin.instances.Heartbeat(pb.HeartbeatRequest(instance_id=instance.instance_id))
    # Once the lease has run out, it is expired and swept all the same.
    world.clock.advance(31)
    await expect_error(
        admin.instances.Heartbeat(pb.HeartbeatRequest(instance_id=instance.instance_id)),
        grpc.StatusCode.NOT_FOUND,
        "LEASE_NOT_FOUND",
    )
    await eventually(lambda: _row_gone(world, instance.instance_id))


async def _row_gone(world: RegistryWorld, instance_id: str) -> bool:
    return all(row.instance_id != instance_id for row in await world.app.instances.live() + await _all_rows(world))


async def _all_rows(world: RegistryWorld) -> list[Any]:
    async with world.mesh.runtime.db.core_session() as session:
        return list((await session.execute(select(InstanceRow))).scalars())


async def test_bad_instances(world: RegistryWorld) -> None:
    admin = await world.admin()
    name = await two_versions(world)
    await expect_error(
        register(admin, name, "https://a.example.test", version="9.9.9"),
        grpc.StatusCode.NOT_FOUND,
        "SERVICE_VERSION_NOT_FOUND",
    )
    for address in ("a.example.test:443", "ftp://a.example.test", "https://user:pw@a.example.test", "https://x?q=1"):
        error = await expect_error(register(admin, name, address), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
        assert violation_fields(error) == {"instance.address"}, address
    grpc_name = unique_name("grpc")
    await world.register(
        service_pb2.Service(
            name=grpc_name,
            kind=service_pb2.SERVICE_KIND_INTERNAL_GRPC,
            versions=[service_pb2.ServiceVersion(version="1.0.0")],
        )
    )
    error = await expect_error(
        register(admin, grpc_name, "https://a.example.test"), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"
    )
    assert violation_fields(error) == {"instance.address"}
    assert (await register(admin, grpc_name, "10.0.0.7:50051")).address == "10.0.0.7:50051"
    error = await expect_error(
        admin.instances.Heartbeat(pb.HeartbeatRequest(instance_id="not-a-uuid")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"instance_id"}


async def test_resolve_returns_healthy_instances_only(world: RegistryWorld, probe: SwitchProbe) -> None:
    admin = await world.admin()
    name = await two_versions(world)
    up_old = await register(admin, name, "https://old.example.test", version="1.0.0")
    up_new = await register(admin, name, "https://new.example.test", version="1.1.0")
    down = await register(admin, name, "https://down.example.test", version="1.1.0")
    probe.healthy.update({up_old.address: True, up_new.address: True})

    async def resolved(version: str = "") -> list[str]:
        response = await admin.discovery.ResolveService(pb.ResolveServiceRequest(service=name, version=version))
        return sorted(i.address for i in response.instances)

    async def both_up() -> bool:
        return await resolved() == sorted([up_old.address, up_new.address])

    await eventually(both_up)
    assert await resolved("1.1.0") == [up_new.address]
    assert await resolved("2.0.0") == []
    unhealthy = await admin.instances.ListInstances(
        pb.ListInstancesRequest(health_states=[instance_pb2.HEALTH_STATE_UNKNOWN, instance_pb2.HEALTH_STATE_UNHEALTHY])
    )
    assert [i.instance_id for i in unhealthy.instances] == [down.instance_id]


async def next_messages(stream: Any, count: int, within: float = 5.0) -> list[pb.WatchResponse]:
    """The next ``count`` messages that are not keepalives."""
    found: list[pb.WatchResponse] = []
    async with asyncio.timeout(within):
        while len(found) < count:
            message = await stream.read()
            assert message is not grpc.aio.EOF
            if message.type != pb.WATCH_EVENT_TYPE_KEEPALIVE:
                found.append(message)
    return found


def summary(message: pb.WatchResponse) -> tuple[str, str]:
    kind = pb.WatchEventType.Name(message.type).removeprefix("WATCH_EVENT_TYPE_")
    if message.HasField("service"):
        return kind, f"service {message.service.name}"
    if message.HasField("instance"):
        return kind, f"instance {message.instance.address}"
    return kind, ""


async def test_a_stream_returns_its_request_id_before_any_message(world: RegistryWorld) -> None:
    # Unary calls return x-request-id in their trailers; a stream's caller needs it at once.
    admin = await world.admin()
    stream = admin.discovery.Watch(pb.WatchRequest(), metadata=(("x-request-id", "watch-42"),))
    try:
        headers = await asyncio.wait_for(stream.initial_metadata(), 5)
        assert ("x-request-id", "watch-42") in tuple(headers)
    finally:
        stream.cancel()


async def test_watch_streams_the_initial_state_then_changes(world: RegistryWorld, probe: SwitchProbe) -> None:
    admin = await world.admin()
    name = await two_versions(world)
    other = await two_versions(world)
    probe.healthy.update({"https://a.example.test": True, "https://b.example.test": True})
    existing = await register(admin, name, "https://a.example.test")
    await eventually(lambda: _is_healthy(admin, existing.instance_id))
    await world.events_relayed()
    everything = admin.discovery.Watch(pb.WatchRequest(send_initial_state=True))
    filtered = admin.discovery.Watch(pb.WatchRequest(services=[name]))
    try:
        initial = [summary(m) for m in await next_messages(everything, 4)]
        assert initial == [
            ("ADDED", f"service {min(name, other)}"),
            ("ADDED", f"service {max(name, other)}"),
            ("ADDED", f"instance {existing.address}"),
            ("SYNCED", ""),
        ]
        await eventually(lambda: _watchers(world, 2))
        second = await register(admin, other, "https://b.example.test")
        await eventually(lambda: _is_healthy(admin, second.instance_id))
        await admin.catalog.RegisterServiceVersion(
            pb.RegisterServiceVersionRequest(service=name, version=service_pb2.ServiceVersion(version="2.0.0"))
        )
        await admin.instances.DeregisterInstance(pb.DeregisterInstanceRequest(instance_id=existing.instance_id))
        changes = [summary(m) for m in await next_messages(everything, 4)]
        assert changes == [
            ("ADDED", f"instance {second.address}"),
            ("UPDATED", f"instance {second.address}"),  # now healthy
            ("UPDATED", f"service {name}"),
            ("REMOVED", f"instance {existing.address}"),
        ]
        mine = [summary(m) for m in await next_messages(filtered, 2)]
        assert mine == [("UPDATED", f"service {name}"), ("REMOVED", f"instance {existing.address}")]
        # Quiet streams get keepalives (the edge would close them otherwise).
        async with asyncio.timeout(5):
            while (await filtered.read()).type != pb.WATCH_EVENT_TYPE_KEEPALIVE:
                pass
    finally:
        everything.cancel()
        filtered.cancel()
    await eventually(lambda: _watchers(world, 0))


async def _is_healthy(admin: Stubs, instance_id: str) -> bool:
    return await health_of(admin, instance_id) == HEALTHY


async def test_a_watcher_that_falls_behind_is_told_to_start_over(world: RegistryWorld) -> None:
    admin = await world.admin()
    stream = admin.discovery.Watch(pb.WatchRequest())
    await eventually(lambda: _watchers(world, 1))
    # A full queue (a client not reading while changes pile up) ends the stream;
    # the queue itself is covered by the hub's unit test.
    for watcher in list(world.app.hub._watchers):
        watcher.overflow()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await read_until_end(stream)
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert error_info(caught.value).reason == "WATCH_OVERFLOW"
    await eventually(lambda: _watchers(world, 0))


async def read_until_end(stream: Any) -> None:
    async with asyncio.timeout(5):
        while await stream.read() is not grpc.aio.EOF:
            pass


async def _watchers(world: RegistryWorld, count: int) -> bool:
    return world.app.hub.watcher_count == count
