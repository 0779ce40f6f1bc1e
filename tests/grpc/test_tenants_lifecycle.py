"""TenantService happy paths over gRPC: create, read, list, update, suspend, resume, delete."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
from google.protobuf import field_mask_pb2
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from tests.grpc.conftest import TenantWorld
from tests.support.errors import assert_error
from tests.support.mesh import RUN_TENANT_DB_PREFIX

ACTIVE = tenant_pb2.TENANT_STATE_ACTIVE
SUSPENDED = tenant_pb2.TENANT_STATE_SUSPENDED
DELETED = tenant_pb2.TENANT_STATE_DELETED
DONE = tenant_pb2.STEP_STATE_DONE


async def delete(world: TenantWorld, tenant: tenant_pb2.Tenant) -> tenant_pb2.Tenant:
    response = await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))
    deleted: tenant_pb2.Tenant = response.tenant
    return deleted


async def test_tenant_databases_carry_the_platforms_prefix(world_factory: Any) -> None:
    # Two platforms on one database server keep their tenants apart by prefix.
    world: TenantWorld = await world_factory({"TENANTMESH_TENANT_DB_PREFIX": "tm_stage_"})
    slug = world.slug("prefixed")
    tenant = await world.create(slug)
    assert tenant.database.database == "tm_stage_" + slug.replace("-", "_")
    assert await world.database_exists(tenant)
    await delete(world, tenant)
    assert not await world.database_exists(tenant)


async def test_create_provisions_an_active_tenant(world: TenantWorld) -> None:
    slug = world.slug("acme")
    tenant = await world.create(slug, plan="enterprise", labels={"env": "prod"}, settings={"theme": "dark"})
    assert uuid.UUID(tenant.tenant_id).version == 7
    assert tenant.slug == slug
    assert tenant.display_name == slug
    assert tenant.state == ACTIVE
    assert tenant.plan == "enterprise"
    assert dict(tenant.labels) == {"env": "prod"}
    assert dict(tenant.settings) == {"theme": "dark"}
    assert tenant.database.server == "default"
    assert tenant.database.database == RUN_TENANT_DB_PREFIX + slug.replace("-", "_")
    assert [(s.name, s.state) for s in tenant.provisioning.steps] == [("database", DONE), ("tenants", DONE)]
    assert tenant.provisioning.steps[1].schema_version == "tenants_tenant_0001"
    assert tenant.provisioning.failure_reason == ""
    assert tenant.create_time.seconds > 0
    assert not tenant.HasField("delete_time")
    assert tenant.etag
    assert await world.database_exists(tenant)
    assert await world.databases_named_like(slug) != []

    current = await world.tenants.GetCurrentTenant(
        pb.GetCurrentTenantRequest(), metadata=[("x-tenant-id", tenant.tenant_id)]
    )
    assert current.schema_version == "tenants_tenant_0001"
    assert current.tenant == tenant
    await delete(world, tenant)


async def test_get_by_id_and_by_slug(world: TenantWorld) -> None:
    slug = world.slug("lookup")
    tenant = await world.create(slug, display_name="Look Up")
    by_id = (await world.tenants.GetTenant(pb.GetTenantRequest(tenant_id=tenant.tenant_id))).tenant
    by_slug = (await world.tenants.GetTenant(pb.GetTenantRequest(slug=slug))).tenant
    assert by_id == by_slug == tenant
    assert by_id.display_name == "Look Up"
    await delete(world, tenant)


async def test_list_filters_by_state_and_labels(world: TenantWorld) -> None:
    prod = await world.create(world.slug("prod"), labels={"env": "prod", "tier": "gold"})
    prod_silver = await world.create(world.slug("prods"), labels={"env": "prod", "tier": "silver"})
    dev = await world.create(world.slug("dev"), labels={"env": "dev"})
    await world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=prod_silver.tenant_id))
    gone = await world.create(world.slug("gone"), labels={"env": "prod"})
    await delete(world, gone)

    async def ids(states: list[Any] | None = None, labels: list[str] | None = None) -> list[str]:
        page = await world.tenants.ListTenants(pb.ListTenantsRequest(states=states or [], labels=labels or []))
        assert page.next_page_token == ""
        return [t.tenant_id for t in page.tenants]

    everyone = [prod.tenant_id, prod_silver.tenant_id, dev.tenant_id]
    assert await ids() == everyone  # creation order, tombstones hidden
    assert await ids(states=[ACTIVE]) == [prod.tenant_id, dev.tenant_id]
    assert await ids(states=[SUSPENDED]) == [prod_silver.tenant_id]
    assert await ids(states=[SUSPENDED, ACTIVE]) == everyone
    assert await ids(states=[DELETED]) == [gone.tenant_id]
    assert await ids(labels=["env=prod"]) == [prod.tenant_id, prod_silver.tenant_id]
    assert await ids(labels=["env=prod", "tier=gold"]) == [prod.tenant_id]
    assert await ids(labels=["env=prod"], states=[ACTIVE]) == [prod.tenant_id]
    assert await ids(labels=["env=staging"]) == []
    assert await ids(labels=["env=prod"], states=[DELETED]) == [gone.tenant_id]
    for tenant in (prod, prod_silver, dev):
        await delete(world, tenant)


async def test_paging_through_seven_tenants(world: TenantWorld) -> None:
    created = [(await world.create(world.slug("page"), labels={"batch": "paging"})).tenant_id for _ in range(7)]
    # Another tenant that the label filter must keep out of every page.
    stranger = await world.create(world.slug("other"))
    pages: list[list[str]] = []
    token = ""
    while True:
        page = await world.tenants.ListTenants(
            pb.ListTenantsRequest(page_size=3, page_token=token, labels=["batch=paging"])
        )
        pages.append([t.tenant_id for t in page.tenants])
        token = page.next_page_token
        if not token:
            break
        assert len(pages) < 10, "paging does not end"
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [tid for p in pages for tid in p] == created  # no duplicates, no gaps, creation order

    # A page boundary that falls on the last row leaves no empty trailing page.
    first = await world.tenants.ListTenants(pb.ListTenantsRequest(page_size=7, labels=["batch=paging"]))
    assert len(first.tenants) == 7
    assert first.next_page_token == ""
    for tenant_id in [*created, stranger.tenant_id]:
        await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant_id))


async def test_update_with_mask_and_etag(world: TenantWorld) -> None:
    tenant = await world.create(world.slug("upd"), display_name="Old", plan="free", labels={"env": "dev", "x": "1"})
    response = await world.tenants.UpdateTenant(
        pb.UpdateTenantRequest(
            tenant=tenant_pb2.Tenant(
                tenant_id=tenant.tenant_id,
                etag=tenant.etag,
                display_name="New",
                plan="enterprise",  # not in the mask: must not change
                labels={"env": "prod"},
                settings={"ignored": "yes"},  # not in the mask either
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name", "labels"]),
        )
    )
    updated = response.tenant
    assert updated.display_name == "New"
    assert updated.plan == "free"
    assert dict(updated.labels) == {"env": "prod"}
    assert dict(updated.settings) == {}
    assert updated.etag != tenant.etag
    assert updated == await world.get(tenant.tenant_id)

    # Without an etag the change is unconditional.
    response = await world.tenants.UpdateTenant(
        pb.UpdateTenantRequest(
            tenant=tenant_pb2.Tenant(tenant_id=tenant.tenant_id, plan="team", settings={"theme": "dark"}),
            update_mask=field_mask_pb2.FieldMask(paths=["plan", "settings"]),
        )
    )
    assert (response.tenant.plan, dict(response.tenant.settings)) == ("team", {"theme": "dark"})
    assert response.tenant.display_name == "New"
    assert response.tenant.etag not in (tenant.etag, updated.etag)
    await delete(world, tenant)


async def test_suspend_and_resume(world: TenantWorld) -> None:
    tenant = await world.create(world.slug("sleepy"))
    suspended = (
        await world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenant.tenant_id, etag=tenant.etag))
    ).tenant
    assert suspended.state == SUSPENDED
    assert suspended.etag != tenant.etag
    # Suspending again is a no-op, not an error.
    again = (await world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenant.tenant_id))).tenant
    assert (again.state, again.etag) == (SUSPENDED, suspended.etag)
    # Data is kept while suspended; metadata can still be edited.
    assert await world.database_exists(tenant)
    edited = (
        await world.tenants.UpdateTenant(
            pb.UpdateTenantRequest(
                tenant=tenant_pb2.Tenant(tenant_id=tenant.tenant_id, display_name="Asleep"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        )
    ).tenant
    resumed = (
        await world.tenants.ResumeTenant(pb.ResumeTenantRequest(tenant_id=tenant.tenant_id, etag=edited.etag))
    ).tenant
    assert resumed.state == ACTIVE
    assert resumed.display_name == "Asleep"
    await delete(world, tenant)


async def test_delete_leaves_a_tombstone_and_frees_the_slug(world: TenantWorld) -> None:
    slug = world.slug("reuse")
    tenant = await world.create(slug)
    await world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenant.tenant_id))
    tombstone = await delete(world, tenant)
    assert tombstone.tenant_id == tenant.tenant_id
    assert tombstone.state == DELETED
    assert tombstone.slug == slug  # the former slug, for the record
    assert tombstone.HasField("delete_time")
    assert not await world.database_exists(tenant)
    assert await world.databases_named_like(slug) == []

    successor = await world.create(slug)
    assert successor.tenant_id != tenant.tenant_id
    assert successor.state == ACTIVE
    assert successor.database.database == tenant.database.database
    assert (await world.tenants.GetTenant(pb.GetTenantRequest(slug=slug))).tenant.tenant_id == successor.tenant_id
    # The new tenant's database is a fresh one, stamped with the new owner.
    current = await world.tenants.GetCurrentTenant(
        pb.GetCurrentTenantRequest(), metadata=[("x-tenant-id", successor.tenant_id)]
    )
    assert current.tenant.tenant_id == successor.tenant_id
    await delete(world, successor)
    states = sorted(t.state for t in await world.list_all() if t.slug == slug)
    assert states == [DELETED, DELETED]


async def test_create_is_idempotent_per_request_id(world: TenantWorld) -> None:
    slug = world.slug("idem")
    request_id = str(uuid.uuid4())
    request = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug), request_id=request_id)
    first = (await world.tenants.CreateTenant(request)).tenant
    second = (await world.tenants.CreateTenant(request)).tenant
    assert second.tenant_id == first.tenant_id
    assert second.state == ACTIVE
    # The request id names the request: a retry returns its outcome, whatever else it says.
    other = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=world.slug("idem")), request_id=request_id)
    assert (await world.tenants.CreateTenant(other)).tenant.tenant_id == first.tenant_id
    assert [t.tenant_id for t in await world.list_all()] == [first.tenant_id]
    assert await world.databases_named_like(slug) == [first.database.database]
    assert await world.databases_named_like(world.slugs[-1]) == []
    await delete(world, first)
    # A deleted tenant is not found, and its request id is released with its slug: the same
    # request creates a tenant anew instead of answering with the tombstone.
    again = (await world.tenants.CreateTenant(request)).tenant
    assert (again.state, again.slug) == (ACTIVE, slug)
    assert again.tenant_id != first.tenant_id
    await delete(world, again)


async def test_concurrent_creates_of_one_slug(world: TenantWorld) -> None:
    slug = world.slug("race")
    request = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug))
    results = await asyncio.gather(
        world.tenants.CreateTenant(request), world.tenants.CreateTenant(request), return_exceptions=True
    )
    winners = [r.tenant for r in results if isinstance(r, pb.CreateTenantResponse)]
    losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert_error(losers[0], grpc.StatusCode.ALREADY_EXISTS, "TENANT_SLUG_TAKEN")
    assert [t.tenant_id for t in await world.list_all()] == [winners[0].tenant_id]
    assert await world.databases_named_like(slug) == [winners[0].database.database]
    await delete(world, winners[0])


async def test_concurrent_retries_of_one_request(world: TenantWorld) -> None:
    slug = world.slug("retry")
    request = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug), request_id=str(uuid.uuid4()))
    results = await asyncio.gather(*(world.tenants.CreateTenant(request) for _ in range(3)), return_exceptions=True)
    created = {r.tenant.tenant_id for r in results if isinstance(r, pb.CreateTenantResponse)}
    assert len(created) == 1
    for result in results:
        if isinstance(result, BaseException):
            # A retry racing the original is told to come back, never that the slug is taken.
            assert isinstance(result, grpc.aio.AioRpcError)
            assert_error(result, grpc.StatusCode.UNAVAILABLE, "TENANT_PROVISIONING")
    [tenant_id] = created
    # Coming back later returns the tenant.
    assert (await world.tenants.CreateTenant(request)).tenant.tenant_id == tenant_id
    assert [t.tenant_id for t in await world.list_all()] == [tenant_id]
    assert await world.databases_named_like(slug) == [(await world.get(tenant_id)).database.database]
    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant_id))
