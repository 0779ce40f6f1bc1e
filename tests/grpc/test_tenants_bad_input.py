"""Issue section 6 over gRPC: every bad input gets its code and reason, and leaves nothing behind."""

from __future__ import annotations

import base64
import json
import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from tests.grpc.conftest import TenantWorld
from tests.support.errors import error_info, expect_error, violation_fields

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def assert_nothing_left(world: TenantWorld, token: str) -> None:
    """No tenant record (in any state) and no tenant database or file mentions ``token``."""
    token = token.lower()
    records = [t for t in await world.list_all() if token in t.slug.lower()]
    assert records == []
    assert await world.databases_named_like(token) == []


def bad_slugs(token: str) -> list[str]:
    return [
        f"Upper-{token}",
        f"{token}-" + "x" * (40 - len(token)),  # 41 characters
        f"a';drop database x;--{token}",
        f"a`{token}`",
        f"{token}; DROP TABLE tenants",
        f"../../{token}",
        f"{token}_underscore",
        f"-{token}",
        f"{token}-",
    ]


async def test_invalid_slugs_are_refused_without_side_effects(world: TenantWorld) -> None:
    token = uuid.uuid4().hex[:12]
    for slug in bad_slugs(token):
        error = await expect_error(
            world.tenants.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug))),
            INVALID,
            "FIELD_INVALID",
        )
        assert violation_fields(error) == {"tenant.slug"}, slug
    await assert_nothing_left(world, token)
    if world.backend == "sqlite":
        assert await world.all_tenant_databases() == []


@pytest.mark.parametrize("slug", ["admin", "mysql", "root", "tenantmesh", "api"])
async def test_reserved_slugs_are_refused(world: TenantWorld, slug: str) -> None:
    error = await expect_error(
        world.tenants.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug))),
        INVALID,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"tenant.slug"}
    assert [t for t in await world.list_all() if t.slug == slug] == []
    # Whatever else runs on this server, this test did not create the database.
    if world.backend == "sqlite":
        assert await world.all_tenant_databases() == []


async def test_missing_slug_and_missing_tenant(world: TenantWorld) -> None:
    error = await expect_error(
        world.tenants.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(display_name="No slug"))),
        INVALID,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"tenant.slug"}
    error = await expect_error(world.tenants.CreateTenant(pb.CreateTenantRequest()), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {"tenant"}
    assert await world.list_all() == []


async def test_invalid_labels_name_their_key(world: TenantWorld) -> None:
    slug = world.slug("labels")
    request = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug, labels={"Env": "prod", "ok": "x" * 64}))
    error = await expect_error(world.tenants.CreateTenant(request), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {'tenant.labels["Env"]', 'tenant.labels["ok"]'}
    await assert_nothing_left(world, slug)


async def test_bad_request_id_is_refused(world: TenantWorld) -> None:
    slug = world.slug("reqid")
    request = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug), request_id="retry-1")
    error = await expect_error(world.tenants.CreateTenant(request), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {"request_id"}
    await assert_nothing_left(world, slug)


async def test_duplicate_slug_is_already_exists(world: TenantWorld) -> None:
    slug = world.slug("dup")
    first = await world.create(slug)
    await expect_error(
        world.tenants.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug))),
        grpc.StatusCode.ALREADY_EXISTS,
        "TENANT_SLUG_TAKEN",
    )
    # The loser left no second record; the winner is untouched and still works.
    records = [t for t in await world.list_all() if t.slug == slug]
    assert [t.tenant_id for t in records] == [first.tenant_id]
    assert (await world.get(first.tenant_id)).state == tenant_pb2.TENANT_STATE_ACTIVE
    assert await world.database_exists(first)
    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=first.tenant_id))
    await assert_nothing_left_but_tombstone(world, slug)


async def assert_nothing_left_but_tombstone(world: TenantWorld, slug: str) -> None:
    records = [t for t in await world.list_all() if t.slug == slug]
    assert [t.state for t in records] == [tenant_pb2.TENANT_STATE_DELETED]
    assert await world.databases_named_like(slug) == []


async def test_unknown_tenant_is_not_found(world: TenantWorld) -> None:
    unknown = str(uuid.uuid4())
    not_found = grpc.StatusCode.NOT_FOUND
    calls = [
        world.tenants.GetTenant(pb.GetTenantRequest(tenant_id=unknown)),
        world.tenants.GetTenant(pb.GetTenantRequest(slug=world.slug("nobody"))),
        world.tenants.UpdateTenant(
            pb.UpdateTenantRequest(
                tenant=tenant_pb2.Tenant(tenant_id=unknown, display_name="x"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        ),
        world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=unknown)),
        world.tenants.ResumeTenant(pb.ResumeTenantRequest(tenant_id=unknown)),
        world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=unknown)),
    ]
    for call in calls:
        await expect_error(call, not_found, "TENANT_NOT_FOUND")
    assert await world.list_all() == []


async def test_malformed_tenant_id_is_invalid(world: TenantWorld) -> None:
    for call in (
        world.tenants.GetTenant(pb.GetTenantRequest(tenant_id="not-a-uuid")),
        world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id="1 OR 1=1")),
        world.tenants.DeleteTenant(pb.DeleteTenantRequest()),
    ):
        error = await expect_error(call, INVALID, "FIELD_INVALID")
        assert violation_fields(error) == {"tenant_id"}


async def test_stale_etag_is_aborted_and_changes_nothing(world: TenantWorld) -> None:
    tenant = await world.create(world.slug("etag"), display_name="Before")
    updated = (
        await world.tenants.UpdateTenant(
            pb.UpdateTenantRequest(
                tenant=tenant_pb2.Tenant(tenant_id=tenant.tenant_id, display_name="After", etag=tenant.etag),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        )
    ).tenant
    stale = tenant.etag
    assert updated.etag != stale
    aborted = grpc.StatusCode.ABORTED
    await expect_error(
        world.tenants.UpdateTenant(
            pb.UpdateTenantRequest(
                tenant=tenant_pb2.Tenant(tenant_id=tenant.tenant_id, display_name="Lost", etag=stale),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        ),
        aborted,
        "ETAG_MISMATCH",
    )
    await expect_error(
        world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenant.tenant_id, etag=stale)),
        aborted,
        "ETAG_MISMATCH",
    )
    await expect_error(
        world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id, etag="not-an-etag")),
        aborted,
        "ETAG_MISMATCH",
    )
    after = await world.get(tenant.tenant_id)
    assert (after.display_name, after.state, after.etag) == ("After", tenant_pb2.TENANT_STATE_ACTIVE, updated.etag)
    assert await world.database_exists(tenant)
    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id, etag=updated.etag))
    assert not await world.database_exists(tenant)


async def test_negative_page_size_is_invalid(world: TenantWorld) -> None:
    error = await expect_error(world.tenants.ListTenants(pb.ListTenantsRequest(page_size=-1)), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {"page_size"}


def _token(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "eyJ2IjoxfQ",  # {"v":1}
        _token({"v": 1, "k": "0190a1b2-0000-7000-8000-000000000000", "f": "0000000000000000"}),
        _token({"v": 1, "k": ["not", "a", "key"], "f": "0000000000000000"}),
    ],
)
async def test_forged_page_token_is_invalid(world: TenantWorld, token: str) -> None:
    error = await expect_error(
        world.tenants.ListTenants(pb.ListTenantsRequest(page_token=token)), INVALID, "PAGE_TOKEN_INVALID"
    )
    assert violation_fields(error) == {"page_token"}


async def test_page_token_reused_with_other_filters_is_invalid(world: TenantWorld) -> None:
    slugs = [world.slug("pt") for _ in range(2)]
    tenants = [await world.create(s) for s in slugs]
    active = [tenant_pb2.TENANT_STATE_ACTIVE]
    first = await world.tenants.ListTenants(pb.ListTenantsRequest(page_size=1, states=active))
    assert first.next_page_token
    for other in (
        pb.ListTenantsRequest(page_size=1, states=[tenant_pb2.TENANT_STATE_SUSPENDED]),
        pb.ListTenantsRequest(page_size=1),
        pb.ListTenantsRequest(page_size=1, states=active, labels=["env=prod"]),
    ):
        other.page_token = first.next_page_token
        await expect_error(world.tenants.ListTenants(other), INVALID, "PAGE_TOKEN_INVALID")
    # The page size may change between pages; only the filters are bound to the token.
    second = await world.tenants.ListTenants(
        pb.ListTenantsRequest(page_size=5, states=active, page_token=first.next_page_token)
    )
    assert [t.tenant_id for t in (*first.tenants, *second.tenants)] == [t.tenant_id for t in tenants]
    for tenant in tenants:
        await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))


async def test_every_operation_on_a_deleted_tenant_is_not_found(world: TenantWorld) -> None:
    slug = world.slug("gone")
    tenant = await world.create(slug)
    tombstone = (await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))).tenant
    assert tombstone.state == tenant_pb2.TENANT_STATE_DELETED
    tid = tenant.tenant_id
    not_found = grpc.StatusCode.NOT_FOUND
    for call in (
        world.tenants.GetTenant(pb.GetTenantRequest(tenant_id=tid)),
        world.tenants.GetTenant(pb.GetTenantRequest(slug=slug)),
        world.tenants.UpdateTenant(
            pb.UpdateTenantRequest(
                tenant=tenant_pb2.Tenant(tenant_id=tid, display_name="zombie"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        ),
        world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tid)),
        world.tenants.ResumeTenant(pb.ResumeTenantRequest(tenant_id=tid)),
        world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tid)),
        world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tid, etag=tombstone.etag)),
    ):
        await expect_error(call, not_found, "TENANT_NOT_FOUND")
    # The tombstone is unchanged by all of that.
    [kept] = await world.list_all(states=[tenant_pb2.TENANT_STATE_DELETED])
    assert (kept.tenant_id, kept.etag, kept.display_name) == (tid, tombstone.etag, tombstone.display_name)
    assert await world.databases_named_like(slug) == []


async def test_resume_of_an_active_tenant_is_a_state_conflict(world: TenantWorld) -> None:
    tenant = await world.create(world.slug("awake"))
    error = await expect_error(
        world.tenants.ResumeTenant(pb.ResumeTenantRequest(tenant_id=tenant.tenant_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TENANT_STATE_CONFLICT",
    )
    assert error_info(error).metadata["state"] == "ACTIVE"
    after = await world.get(tenant.tenant_id)
    assert (after.state, after.etag) == (tenant_pb2.TENANT_STATE_ACTIVE, tenant.etag)
    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))


@pytest.mark.parametrize(
    "paths",
    [["state"], ["slug"], ["tenant_id"], ["database"], ["display_name", "etag"], ["labels.env"], []],
    ids=["state", "slug", "tenant_id", "database", "etag", "subpath", "empty"],
)
async def test_update_mask_outside_the_updatable_fields(world: TenantWorld, paths: list[str]) -> None:
    tenant = await world.create(world.slug("mask"), display_name="Kept")
    request = pb.UpdateTenantRequest(
        tenant=tenant_pb2.Tenant(tenant_id=tenant.tenant_id, slug="other-slug", display_name="Changed"),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    error = await expect_error(world.tenants.UpdateTenant(request), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {"update_mask"}
    after = await world.get(tenant.tenant_id)
    assert (after.slug, after.display_name, after.etag) == (tenant.slug, "Kept", tenant.etag)
    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))


async def test_update_without_mask_is_invalid(world: TenantWorld) -> None:
    tenant = await world.create(world.slug("nomask"))
    request = pb.UpdateTenantRequest(tenant=tenant_pb2.Tenant(tenant_id=tenant.tenant_id, display_name="x"))
    error = await expect_error(world.tenants.UpdateTenant(request), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {"update_mask"}
    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))
