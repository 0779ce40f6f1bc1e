"""Active health checks: thresholds against flapping, the gRPC health protocol,
HTTP GET with a timeout, and one checking replica at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from tenantmesh.registry.v1 import events_pb2, instance_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb

from services.registry.health import HealthChecker
from services.runtime import clock
from services.runtime.events import Event
from tests.support.registry import (
    RegistryWorld,
    SwitchProbe,
    eventually,
    http_service,
    registry_world,
    unique_name,
)

H = instance_pb2.HealthState


@contextlib.asynccontextmanager
async def world_with(db_url: str, tmp_path: Path, probe: SwitchProbe | None = None) -> AsyncIterator[RegistryWorld]:
    async with registry_world(db_url, tmp_path, probe=probe) as started:
        yield started


async def register_instance(world: RegistryWorld, service: service_pb2.Service, address: str) -> Any:
    await world.register(service)
    response = await (await world.admin()).instances.RegisterInstance(
        pb.RegisterInstanceRequest(
            service=service.name, instance=instance_pb2.Instance(address=address, version="1.0.0")
        )
    )
    return response.instance


async def health(world: RegistryWorld, instance_id: str) -> int:
    listed = await (await world.admin()).instances.ListInstances(pb.ListInstancesRequest())
    return next((i.health for i in listed.instances if i.instance_id == instance_id), -1)


def check(**fields: Any) -> service_pb2.HealthCheck:
    return service_pb2.HealthCheck(**fields)


async def test_health_changes_only_after_n_failures_or_m_successes(db_backend_url: str, tmp_path: Path) -> None:
    probe = SwitchProbe()
    address = "https://flappy.example.test"
    ok, bad = True, False
    probe.script[address] = [ok, bad, bad, ok, bad, bad, bad, ok, bad, ok, ok]
    probe.healthy[address] = True
    async with world_with(db_backend_url, tmp_path, probe) as world:
        seen: list[str] = []

        async def record(event: Event) -> None:
            assert isinstance(event.payload, events_pb2.InstanceChanged)
            if event.payload.instance.address == address:
                seen.append(H.Name(event.payload.instance.health).removeprefix("HEALTH_STATE_"))

        world.mesh.runtime.events.subscribe("instance.changed", record)
        service = http_service(unique_name(), health_check=check(unhealthy_threshold=3, healthy_threshold=2))
        instance = await register_instance(world, service, address)

        async def script_done() -> bool:
            return not probe.script[address] and await health(world, instance.instance_id) == H.HEALTH_STATE_HEALTHY

        await eventually(script_done)
        expected = ["UNKNOWN", "HEALTHY", "UNHEALTHY", "HEALTHY"]

        async def all_seen() -> bool:
            return len(seen) >= len(expected)

        await eventually(all_seen)
        # ok -> HEALTHY; two failures are not enough; three are; a lone success after
        # them is not enough to come back; two in a row are.
        assert seen == expected


async def test_grpc_instances_are_checked_with_the_health_protocol(db_backend_url: str, tmp_path: Path) -> None:
    server = grpc.aio.server()
    servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await servicer.set("acme.v1.Api", health_pb2.HealthCheckResponse.SERVING)
    try:
        async with world_with(db_backend_url, tmp_path) as world:
            service = service_pb2.Service(
                name=unique_name("grpc"),
                kind=service_pb2.SERVICE_KIND_INTERNAL_GRPC,
                versions=[service_pb2.ServiceVersion(version="1.0.0")],
                health_check=check(grpc_service="acme.v1.Api", unhealthy_threshold=2, healthy_threshold=2),
            )
            instance = await register_instance(world, service, f"127.0.0.1:{port}")

            async def becomes(state: int) -> None:
                async def reached() -> bool:
                    return await health(world, instance.instance_id) == state

                await eventually(reached)

            await becomes(H.HEALTH_STATE_HEALTHY)
            await servicer.set("acme.v1.Api", health_pb2.HealthCheckResponse.NOT_SERVING)
            await becomes(H.HEALTH_STATE_UNHEALTHY)
            listed = await (await world.admin()).instances.ListInstances(pb.ListInstancesRequest())
            assert listed.instances[0].last_check_error == "gRPC health NOT_SERVING"
            await servicer.set("acme.v1.Api", health_pb2.HealthCheckResponse.SERVING)
            await becomes(H.HEALTH_STATE_HEALTHY)
            await server.stop(None)
            await becomes(H.HEALTH_STATE_UNHEALTHY)
    finally:
        await server.stop(None)


class HttpHealth:
    """A minimal HTTP/1.1 server: GET /base/healthz answers ``status``; ``hang`` never answers;
    ``drip_seconds`` answers 200 at once and then sends the body a byte every 0.2 s for that long."""

    def __init__(self) -> None:
        self.status = 200
        self.hang = False
        self.drip_seconds = 0.0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            if self.hang:
                await asyncio.sleep(30)
            if self.drip_seconds:
                await self._drip(writer)
                return
            status = self.status if request.startswith(b"GET /base/healthz ") else 404
            writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _drip(self, writer: asyncio.StreamWriter) -> None:
        count = int(self.drip_seconds / 0.2)
        writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {count}\r\nconnection: close\r\n\r\n".encode())
        for _ in range(count):
            writer.write(b".")
            await writer.drain()
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def http_health() -> AsyncIterator[HttpHealth]:
    server = HttpHealth()
    await server.start()
    yield server
    await server.stop()


async def test_http_instances_are_checked_with_get(
    db_backend_url: str, tmp_path: Path, http_health: HttpHealth
) -> None:
    async with world_with(db_backend_url, tmp_path) as world:
        service = http_service(
            unique_name(),
            health_check=check(http_path="/healthz", unhealthy_threshold=1, healthy_threshold=1, timeout_seconds=1),
        )
        instance = await register_instance(world, service, f"http://127.0.0.1:{http_health.port}/base/")

        async def becomes(state: int) -> None:
            async def reached() -> bool:
                return await health(world, instance.instance_id) == state

            await eventually(reached)

        await becomes(H.HEALTH_STATE_HEALTHY)
        http_health.status = 503
        await becomes(H.HEALTH_STATE_UNHEALTHY)
        http_health.status = 200
        await becomes(H.HEALTH_STATE_HEALTHY)
        http_health.hang = True  # the 1 s timeout counts as a failure
        await becomes(H.HEALTH_STATE_UNHEALTHY)


async def test_an_instance_dripping_its_answer_holds_no_check_past_its_timeout(
    db_backend_url: str, tmp_path: Path, http_health: HttpHealth
) -> None:
    """An instance that answers 200 and then drips its body for 20 s (the timeout is 1 s): the
    check is judged by its status, and the others' checks go on. Reading the body held the
    whole round (and every instance's first check) for as long as the bytes kept coming."""
    dripping = HttpHealth()
    dripping.drip_seconds = 20.0
    await dripping.start()
    try:
        async with world_with(db_backend_url, tmp_path) as world:
            quick = check(http_path="/healthz", unhealthy_threshold=1, healthy_threshold=1, timeout_seconds=1)
            slow = await register_instance(
                world, http_service(unique_name(), health_check=quick), f"http://127.0.0.1:{dripping.port}/base/"
            )
            await asyncio.sleep(0.5)  # its first check is under way
            other = await register_instance(
                world, http_service(unique_name(), health_check=quick), f"http://127.0.0.1:{http_health.port}/base/"
            )

            async def both_healthy() -> bool:
                return {await health(world, i.instance_id) for i in (slow, other)} == {H.HEALTH_STATE_HEALTHY}

            await eventually(both_healthy, within=4)
    finally:
        await dripping.stop()


async def test_one_replica_checks_at_a_time(db_backend_url: str, tmp_path: Path) -> None:
    async with world_with(db_backend_url, tmp_path, SwitchProbe()) as world:
        await eventually(lambda: _is_leader(world.app.checker))
        second = HealthChecker(world.mesh.runtime.db, world.app.instances, world.app.settings, SwitchProbe())
        await second.run_once()
        assert not second.leader
        await world.app.checker.stop()  # releases the lease
        await second.run_once()
        assert second.leader
        await second.stop()


@pytest.mark.parametrize(("holder_offset", "taker_offset"), [(0, 120), (-120, 0)], ids=["taker-ahead", "holder-behind"])
async def test_the_checker_lease_holds_across_a_two_minute_clock_skew(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, holder_offset: int, taker_offset: int
) -> None:
    # The lease electing the checking replica is on the database's clock, like the instances':
    # a replica 2 minutes ahead, or a holder 2 minutes behind, must not see a live lease (15 s) as run out.
    async with world_with(db_backend_url, tmp_path, SwitchProbe()) as world:
        await world.app.checker.stop()  # two replicas of our own instead
        instances, settings = world.app.instances, world.app.settings
        holder = HealthChecker(world.mesh.runtime.db, instances, settings, SwitchProbe())
        taker = HealthChecker(world.mesh.runtime.db, instances, settings, SwitchProbe())
        monkeypatch.setattr(clock, "_OFFSET", timedelta(seconds=holder_offset))
        await holder.run_once()
        assert holder.leader
        monkeypatch.setattr(clock, "_OFFSET", timedelta(seconds=taker_offset))
        await taker.run_once()
        assert not taker.leader
        # A holder that stopped renewing (died) is replaced once its lease has run out.
        world.clock.advance(16)
        await taker.run_once()
        assert taker.leader
        await taker.stop()


async def _is_leader(checker: HealthChecker) -> bool:
    return checker.leader


async def test_checks_that_change_nothing_are_recorded_at_most_every_minute(
    db_backend_url: str, tmp_path: Path
) -> None:
    probe = SwitchProbe()
    address = "https://steady.example.test"
    probe.healthy[address] = True
    async with world_with(db_backend_url, tmp_path, probe) as world:
        service = http_service(unique_name())
        await world.register(service)
        admin = await world.admin()
        instance = (
            await admin.instances.RegisterInstance(
                pb.RegisterInstanceRequest(
                    service=service.name,
                    instance=instance_pb2.Instance(address=address, version="1.0.0"),
                    ttl_seconds=3600,  # outlives the clock moves below
                )
            )
        ).instance

        async def listed() -> instance_pb2.Instance:
            found = await admin.instances.ListInstances(pb.ListInstancesRequest(services=[service.name]))
            mine: instance_pb2.Instance = next(i for i in found.instances if i.instance_id == instance.instance_id)
            return mine

        async def healthy() -> bool:
            return (await listed()).health == H.HEALTH_STATE_HEALTHY

        await eventually(healthy)
        first = (await listed()).last_check_time.ToDatetime()
        probes = len(probe.calls)

        async def probed_again(times: int) -> bool:
            return len(probe.calls) >= probes + times

        await eventually(lambda: probed_again(5))
        assert (await listed()).last_check_time.ToDatetime() == first  # same outcome: not written again

        world.clock.advance(61)
        later = len(probe.calls)

        async def recorded() -> bool:
            return len(probe.calls) > later and (await listed()).last_check_time.ToDatetime() > first

        await eventually(recorded)  # a minute on, the unchanged outcome is recorded once more

        probe.healthy[address] = False

        async def error_shown() -> bool:
            return (await listed()).last_check_error == "switched off"

        await eventually(error_shown)  # a new error is written at once, within the minute
