"""Tenants enabling catalogue services, with configuration validated against the
service's schema, over gRPC on the real platform with real tenant administrators."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from tenantmesh.registry.v1 import events_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.tenants.v1 import tenant_service_pb2

from services.registry import repository as repo
from services.runtime.events import Event
from tests.support.errors import expect_error, violation_fields, violations
from tests.support.platform import bearer
from tests.support.registry import (
    RegistryWorld,
    Stubs,
    eventually,
    http_service,
    registry_world,
    struct,
    unique_name,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "enum": ["eu", "us"]},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
        "contacts": {"type": "array", "items": {"type": "string", "format": "email"}},
        "limits": {"type": "object", "properties": {"rps": {"type": "number"}}},
    },
    "required": ["region", "replicas"],
    "additionalProperties": False,
}
GOOD = {"region": "eu", "replicas": 2}


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path) -> AsyncIterator[RegistryWorld]:
    async with registry_world(db_backend_url, tmp_path) as started:
        yield started


async def service_with_schema(world: RegistryWorld) -> str:
    name = unique_name()
    await world.register(http_service(name, config_schema=struct(SCHEMA)))
    return name


async def tenant_admin(world: RegistryWorld) -> tuple[str, Stubs]:
    tenant_id = await world.new_tenant()
    return tenant_id, world.stubs(await world.tenant_admin_token(tenant_id), tenant_id)


async def test_enable_configure_list_and_disable(world: RegistryWorld) -> None:
    name = await service_with_schema(world)
    plain = unique_name("plain")
    await world.register(http_service(plain))
    _, admin = await tenant_admin(world)

    enabled = (
        await admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD)))
    ).enabled_service
    assert (enabled.service, dict(enabled.config), enabled.etag) == (name, {"region": "eu", "replicas": 2.0}, "1")
    await admin.enabled.EnableService(pb.EnableServiceRequest(service=plain))  # no schema: any object

    listed = await admin.enabled.ListEnabledServices(pb.ListEnabledServicesRequest(page_size=1))
    rest = await admin.enabled.ListEnabledServices(pb.ListEnabledServicesRequest(page_token=listed.next_page_token))
    assert [e.service for e in [*listed.enabled_services, *rest.enabled_services]] == sorted([name, plain])

    changed = (
        await admin.enabled.UpdateServiceConfig(
            pb.UpdateServiceConfigRequest(
                service=name, config=struct({"region": "us", "replicas": 3}), etag=enabled.etag
            )
        )
    ).enabled_service
    assert (changed.config["region"], changed.etag) == ("us", "2")
    await expect_error(
        admin.enabled.UpdateServiceConfig(
            pb.UpdateServiceConfigRequest(service=name, config=struct(GOOD), etag=enabled.etag)
        ),
        grpc.StatusCode.ABORTED,
        "ETAG_MISMATCH",
    )
    got = (await admin.enabled.GetEnabledService(pb.GetEnabledServiceRequest(service=name))).enabled_service
    assert got == changed

    await admin.enabled.DisableService(pb.DisableServiceRequest(service=name))
    for call in (
        admin.enabled.GetEnabledService(pb.GetEnabledServiceRequest(service=name)),
        admin.enabled.DisableService(pb.DisableServiceRequest(service=name)),
        admin.enabled.UpdateServiceConfig(pb.UpdateServiceConfigRequest(service=name, config=struct(GOOD))),
    ):
        await expect_error(call, grpc.StatusCode.NOT_FOUND, "SERVICE_NOT_ENABLED")


async def test_config_violations_are_all_reported_with_json_paths(world: RegistryWorld) -> None:
    name = await service_with_schema(world)
    _, admin = await tenant_admin(world)
    bad = {"region": "mars", "contacts": ["ops@example.test", 7], "limits": {"rps": "fast"}, "colour": "blue"}
    error = await expect_error(
        admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(bad))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONFIG_INVALID",
    )
    assert violation_fields(error) == {
        "config.region",
        "config.replicas",
        "config.contacts[1]",
        "config.limits.rps",
        "config.colour",
    }
    assert {v.reason for v in violations(error)} == {"CONFIG_INVALID"}
    await expect_error(
        admin.enabled.GetEnabledService(pb.GetEnabledServiceRequest(service=name)),
        grpc.StatusCode.NOT_FOUND,
        "SERVICE_NOT_ENABLED",
    )
    # The same check on update.
    await admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD)))
    error = await expect_error(
        admin.enabled.UpdateServiceConfig(
            pb.UpdateServiceConfigRequest(service=name, config=struct({"region": "eu", "replicas": 0}))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONFIG_INVALID",
    )
    assert violation_fields(error) == {"config.replicas"}


async def test_enabling_twice_is_already_exists_but_a_retry_is_not(world: RegistryWorld) -> None:
    name = await service_with_schema(world)
    _, admin = await tenant_admin(world)
    request = pb.EnableServiceRequest(service=name, config=struct(GOOD), request_id=str(uuid.uuid4()))
    first = await admin.enabled.EnableService(request)
    assert await admin.enabled.EnableService(request) == first  # the same request retried
    await expect_error(
        admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD))),
        grpc.StatusCode.ALREADY_EXISTS,
        "SERVICE_ALREADY_ENABLED",
    )
    # Another tenant's request ids are its own.
    _, other = await tenant_admin(world)
    theirs = await other.enabled.EnableService(request)
    assert theirs.enabled_service.service == name


async def test_unknown_service_cannot_be_enabled(world: RegistryWorld) -> None:
    _, admin = await tenant_admin(world)
    await expect_error(
        admin.enabled.EnableService(pb.EnableServiceRequest(service=unique_name("ghost"))),
        grpc.StatusCode.NOT_FOUND,
        "SERVICE_NOT_FOUND",
    )


async def test_a_tenant_admin_cannot_touch_another_tenants_enablement(world: RegistryWorld) -> None:
    name = await service_with_schema(world)
    tenant_a, admin_a = await tenant_admin(world)
    tenant_b, admin_b = await tenant_admin(world)
    await admin_b.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD)))
    token_a = await world.tenant_admin_token(tenant_a)
    into_b = world.stubs(token_a, tenant_b)
    for call in (
        into_b.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD))),
        into_b.enabled.DisableService(pb.DisableServiceRequest(service=name)),
        into_b.enabled.GetEnabledService(pb.GetEnabledServiceRequest(service=name)),
        into_b.enabled.ListEnabledServices(pb.ListEnabledServicesRequest()),
        into_b.enabled.UpdateServiceConfig(pb.UpdateServiceConfigRequest(service=name, config=struct(GOOD))),
    ):
        await expect_error(call, grpc.StatusCode.PERMISSION_DENIED, "TENANT_MISMATCH")
    # Tenant A sees only its own (nothing), B's enablement is untouched.
    assert list((await admin_a.enabled.ListEnabledServices(pb.ListEnabledServicesRequest())).enabled_services) == []
    got = (await admin_b.enabled.GetEnabledService(pb.GetEnabledServiceRequest(service=name))).enabled_service
    assert got.etag == "1"
    # The platform administrator acts on any tenant (platform override).
    platform_in_b = await world.admin(tenant_b)
    listed = await platform_in_b.enabled.ListEnabledServices(pb.ListEnabledServicesRequest())
    assert [e.service for e in listed.enabled_services] == [name]


async def test_a_service_in_use_cannot_be_deleted(world: RegistryWorld) -> None:
    name = await service_with_schema(world)
    _, admin = await tenant_admin(world)
    await admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD)))
    catalog = (await world.admin()).catalog
    await expect_error(
        catalog.DeleteService(pb.DeleteServiceRequest(name=name)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "SERVICE_IN_USE",
    )
    await admin.enabled.DisableService(pb.DisableServiceRequest(service=name))
    await catalog.DeleteService(pb.DeleteServiceRequest(name=name))


async def test_enablement_emits_events(world: RegistryWorld) -> None:
    seen: list[tuple[str, str | None, str]] = []

    async def record(event: Event) -> None:
        assert isinstance(event.payload, events_pb2.TenantServiceChanged)
        seen.append((event.type, event.tenant_id, event.payload.service))

    world.mesh.runtime.events.subscribe("tenant_service.", record)
    name = await service_with_schema(world)
    tenant_id, admin = await tenant_admin(world)
    await admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD)))
    await admin.enabled.UpdateServiceConfig(pb.UpdateServiceConfigRequest(service=name, config=struct(GOOD)))
    await admin.enabled.DisableService(pb.DisableServiceRequest(service=name))
    expected = [
        ("tenant_service.enabled", tenant_id, name),
        ("tenant_service.updated", tenant_id, name),
        ("tenant_service.disabled", tenant_id, name),
    ]

    async def all_seen() -> bool:
        return [e for e in seen if e[2] == name] == expected

    # Through the outbox: published by the relay right after each commit.
    await eventually(all_seen)


async def test_a_deleted_tenants_enablements_go_with_it(world: RegistryWorld) -> None:
    name = await service_with_schema(world)
    tenant_id, admin = await tenant_admin(world)
    await admin.enabled.EnableService(pb.EnableServiceRequest(service=name, config=struct(GOOD)))
    await world.mesh.tenants.DeleteTenant(
        tenant_service_pb2.DeleteTenantRequest(tenant_id=tenant_id), metadata=bearer(await world.admin_token())
    )

    async def dropped() -> bool:
        async with world.mesh.runtime.db.core_session() as session:
            return await repo.get_enabled(session, tenant_id, name) is None

    await eventually(dropped)
    # ... so the service can be deleted now.
    await (await world.admin()).catalog.DeleteService(pb.DeleteServiceRequest(name=name))


async def test_tenant_admins_browse_the_catalogue_to_choose_what_to_enable(world: RegistryWorld) -> None:
    with_schema = await service_with_schema(world)
    tagged = unique_name("tagged")
    await world.register(http_service(tagged, tags=["billing"]))
    tenant_id, admin = await tenant_admin(world)
    await admin.enabled.EnableService(pb.EnableServiceRequest(service=with_schema, config=struct(GOOD)))

    listed: list[service_pb2.Service] = []
    token = ""
    while True:
        page = await admin.enabled.ListAvailableServices(pb.ListAvailableServicesRequest(page_size=1, page_token=token))
        listed.extend(page.services)
        token = page.next_page_token
        if not token:
            break
    by_name = {s.name: s for s in listed}
    # Enabled or not, every catalogue service is there, schema included; contracts are not.
    assert {with_schema, tagged} <= by_name.keys()
    assert dict(by_name[with_schema].config_schema)["required"] == ["region", "replicas"]
    assert all(not v.HasField("descriptor_set") and not v.HasField("openapi") for s in listed for v in s.versions)
    only_billing = await admin.enabled.ListAvailableServices(pb.ListAvailableServicesRequest(tags=["billing"]))
    assert [s.name for s in only_billing.services] == [tagged]

    # A plain member of the tenant may not (tenant administrators hold the permission).
    member = world.stubs(await world.member_token(tenant_id), tenant_id)
    await expect_error(
        member.enabled.ListAvailableServices(pb.ListAvailableServicesRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
