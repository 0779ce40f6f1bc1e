"""The platform's own services in the registry: they register themselves (even
though the registry starts after them), stay registered across an expired lease,
leave on shutdown, and find each other through it with static addresses as the
fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from tenantmesh.registry.v1 import instance_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as pb_grpc

from services.runtime.discovery import Resolver, advertised_address, contract_of, load_discovery_settings
from tests.support.errors import expect_error
from tests.support.mesh_tls import mesh_channel
from tests.support.registry import RegistryWorld, eventually, registry_world

DISCOVERY_ON = {
    "TENANTMESH_DISCOVERY": "on",
    "TENANTMESH_DISCOVERY_LEASE_SECONDS": "3",
    "TENANTMESH_DISCOVERY_RETRY_SECONDS": "0.1",
    "TENANTMESH_DISCOVERY_REFRESH_SECONDS": "0.2",
}
PLATFORM = ("auth", "registry", "tenants")


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path) -> AsyncIterator[RegistryWorld]:
    # The real network probe: the registry checks the services' gRPC health.
    async with registry_world(db_backend_url, tmp_path, env=DISCOVERY_ON) as started:
        yield started


async def healthy_instances(world: RegistryWorld) -> dict[str, str]:
    listed = await (await world.admin()).instances.ListInstances(
        pb.ListInstancesRequest(services=list(PLATFORM), health_states=[instance_pb2.HEALTH_STATE_HEALTHY])
    )
    return {i.service: i.address for i in listed.instances}


async def test_platform_services_register_themselves(world: RegistryWorld) -> None:
    async def all_healthy() -> bool:
        return set(await healthy_instances(world)) == set(PLATFORM)

    await eventually(all_healthy, within=10)
    assert await healthy_instances(world) == {name: world.mesh.runtime.addresses[name] for name in PLATFORM}
    admin = await world.admin()
    tenants = (await admin.catalog.GetService(pb.GetServiceRequest(name="tenants"))).service
    assert tenants.kind == service_pb2.SERVICE_KIND_INTERNAL_GRPC
    assert [v.version for v in tenants.versions] == [world.mesh.runtime.settings.version]
    assert tenants.versions[0].descriptor_set == contract_of(
        ["tenantmesh.tenants.v1.TenantService", "tenantmesh.lifecycle.v1.TenantLifecycleService"]
    )
    assert "tenants.tenants.create" in {p.name for p in tenants.permissions}
    registry = (await admin.catalog.GetService(pb.GetServiceRequest(name="registry"))).service
    assert "registry.enabled_services.create" in {p.name for p in registry.permissions}
    resolved = await admin.discovery.ResolveService(pb.ResolveServiceRequest(service="auth"))
    assert [i.address for i in resolved.instances] == [world.mesh.runtime.addresses["auth"]]


async def test_the_registry_checks_the_services_over_mesh_tls(db_backend_url: str, tmp_path: Path) -> None:
    # With mutual TLS every server refuses plaintext: the health checks present the registry's
    # certificate, and each instance must present one issued for its service.
    async with registry_world(db_backend_url, tmp_path, env=DISCOVERY_ON, mesh_tls=True) as world:

        async def all_healthy() -> bool:
            return set(await healthy_instances(world)) == set(PLATFORM)

        await eventually(all_healthy, within=10)


async def test_an_expired_lease_is_registered_again_and_shutdown_deregisters(world: RegistryWorld) -> None:
    async def all_healthy() -> bool:
        return set(await healthy_instances(world)) == set(PLATFORM)

    await eventually(all_healthy, within=10)
    [tenants] = [s for s in world.mesh.started if s.app.name == "tenants"]
    assert tenants.registration is not None
    first = tenants.registration.instance_id
    world.clock.advance(60)  # every lease runs out; heartbeats answer NOT_FOUND

    async def registered_again() -> bool:
        registration = tenants.registration
        return registration is not None and registration.instance_id not in (None, first)

    await eventually(registered_again, within=10)
    await eventually(all_healthy, within=10)

    await tenants.registration.stop()
    listed = await (await world.admin()).instances.ListInstances(pb.ListInstancesRequest(services=["tenants"]))
    assert list(listed.instances) == []


async def test_services_resolve_each_other_with_static_fallback(world: RegistryWorld) -> None:
    async def all_healthy() -> bool:
        return set(await healthy_instances(world)) == set(PLATFORM)

    await eventually(all_healthy, within=10)
    runtime = world.mesh.runtime
    settings = load_discovery_settings(DISCOVERY_ON)
    static = {"tenants": "127.0.0.1:1", "auth": "127.0.0.1:2", "registry": runtime.addresses["registry"]}
    # Another process: it hosts nothing, and its configured addresses are wrong.
    addresses = dict(static)
    resolver = Resolver(addresses, static, lambda: runtime.channel("registry"), runtime.credentials, settings)
    await resolver.refresh_once()
    assert addresses["tenants"] == runtime.addresses["tenants"]
    assert addresses["auth"] == runtime.addresses["auth"]
    assert addresses["registry"] == static["registry"]  # the registry itself stays static

    # The tenants service leaves: back to the static address.
    [tenants] = [s for s in world.mesh.started if s.app.name == "tenants"]
    assert tenants.registration is not None
    await tenants.registration.stop()

    async def back_to_static() -> bool:
        # Resolve answers are cached up to a second, cleared by the instance event.
        await resolver.refresh_once()
        return addresses["tenants"] == static["tenants"]

    await eventually(back_to_static, within=3)

    # The registry unreachable from the start: static addresses.
    cold = dict(static)
    unreachable = Resolver(cold, static, lambda: runtime.channels.get("127.0.0.1:9"), runtime.credentials, settings)
    await unreachable.refresh_once()
    assert cold == static


def test_advertised_addresses() -> None:
    assert advertised_address("127.0.0.1:0", 50051, None) == "127.0.0.1:50051"
    assert advertised_address("0.0.0.0:50051", 50051, "tenants-0.mesh") == "tenants-0.mesh:50051"
    host = advertised_address("0.0.0.0:50051", 50051, None).rsplit(":", 1)[0]
    assert host not in ("", "0.0.0.0")


async def test_a_service_registers_renews_and_removes_its_own_instances_only(
    db_backend_url: str, tmp_path: Path
) -> None:
    """With mesh TLS the registry knows which service calls: the platform's service token (which
    every service holds) no longer lets one service take over, keep alive or remove another's
    instances (register the auth service at an address of its choosing, deregister it)."""
    async with registry_world(db_backend_url, tmp_path, env=DISCOVERY_ON, mesh_tls=True) as world:

        async def all_healthy() -> bool:
            return set(await healthy_instances(world)) == set(PLATFORM)

        await eventually(all_healthy, within=10)
        listed = await (await world.admin()).instances.ListInstances(pb.ListInstancesRequest(services=list(PLATFORM)))
        ids = {i.service: i.instance_id for i in listed.instances}
        version = world.mesh.runtime.settings.version
        tls = world.mesh.runtime.settings.mesh_tls
        assert tls is not None
        token = await world.mesh.runtime.credentials.metadata()
        async with mesh_channel(tls, world.mesh.runtime.addresses["registry"], "registry", "tenants") as channel:
            stub: Any = pb_grpc.InstanceServiceStub(channel)
            elsewhere = instance_pb2.Instance(version=version, address="127.0.0.1:1")
            for call in (
                stub.RegisterInstance(pb.RegisterInstanceRequest(service="auth", instance=elsewhere), metadata=token),
                stub.Heartbeat(pb.HeartbeatRequest(instance_id=ids["auth"]), metadata=token),
                stub.DeregisterInstance(pb.DeregisterInstanceRequest(instance_id=ids["auth"]), metadata=token),
            ):
                await expect_error(call, grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
            # Its own instances it renews as before.
            await stub.Heartbeat(pb.HeartbeatRequest(instance_id=ids["tenants"]), metadata=token)
        assert await healthy_instances(world) == {name: world.mesh.runtime.addresses[name] for name in PLATFORM}
