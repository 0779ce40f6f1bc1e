"""Per-tenant usage: calls and failed calls per tenant and hour, counted in memory by every
process, added to the core database on flush, read with GetTenantUsage and tenantctl."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import admin_service_pb2_grpc as admin_pb_grpc
from tenantmesh.auth.v1 import user_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.cli.tenantctl import build_parser, run
from services.runtime.mesh_tls import EDGE
from tests.support.errors import expect_error, violation_fields
from tests.support.mesh_tls import mesh_channel
from tests.support.platform import Platform, bearer, platform


@pytest.fixture
async def mesh(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    # Mesh TLS: the edge is told apart from other callers by its certificate.
    async with platform(db_backend_url, tmp_path, mesh_tls=True) as handle:
        yield handle


def users_from_the_edge(mesh: Platform) -> tuple[grpc.aio.Channel, Any]:
    """A channel to auth presenting the edge's identity, and its UserService stub."""
    tls = mesh.runtime.settings.mesh_tls
    assert tls is not None
    channel = mesh_channel(tls, mesh.runtime.addresses["auth"], "auth", caller=EDGE)
    return channel, admin_pb_grpc.UserServiceStub(channel)


async def usage(mesh: Platform, tenant_id: str, token: str) -> list[tuple[int, int]]:
    assert mesh.runtime.usage is not None
    await mesh.runtime.usage.flush()
    response = await mesh.tenants.GetTenantUsage(pb.GetTenantUsageRequest(tenant_id=tenant_id), metadata=bearer(token))
    return [(hour.requests, hour.errors) for hour in response.hours]


async def test_calls_through_the_edge_are_counted_per_tenant_and_hour(mesh: Platform) -> None:
    token = await mesh.admin_token()
    acme, other = await mesh.create_tenant("usage-acme"), await mesh.create_tenant("usage-other")
    channel, users = users_from_the_edge(mesh)
    as_acme = (*bearer(token), ("x-tenant-id", acme.tenant_id))
    try:
        for _ in range(3):
            await users.ListUsers(admin_pb.ListUsersRequest(), metadata=as_acme)
        with pytest.raises(grpc.aio.AioRpcError):
            await users.ListUsers(admin_pb.ListUsersRequest(page_token="not a token"), metadata=as_acme)
        # A caller that is not the edge (another service, say) is not the tenant's traffic again.
        await mesh.admin_stub("UserService").ListUsers(admin_pb.ListUsersRequest(), metadata=as_acme)

        assert await usage(mesh, acme.tenant_id, token) == [(4, 1)]
        assert await usage(mesh, other.tenant_id, token) == []
        # Later flushes add to the same hour.
        await users.ListUsers(admin_pb.ListUsersRequest(), metadata=as_acme)
        assert await usage(mesh, acme.tenant_id, token) == [(5, 1)]
    finally:
        await channel.close()


async def test_usage_of_an_unknown_tenant_or_a_bad_range_is_refused(mesh: Platform) -> None:
    token = await mesh.admin_token()
    tenant = await mesh.create_tenant("usage-range")
    await expect_error(
        mesh.tenants.GetTenantUsage(pb.GetTenantUsageRequest(tenant_id=str(uuid.uuid4())), metadata=bearer(token)),
        grpc.StatusCode.NOT_FOUND,
        "TENANT_NOT_FOUND",
    )
    backwards = pb.GetTenantUsageRequest(
        tenant_id=tenant.tenant_id,
        start_time=timestamp_pb2.Timestamp(seconds=2_000_000_000),
        end_time=timestamp_pb2.Timestamp(seconds=1_000_000_000),
    )
    error = await expect_error(
        mesh.tenants.GetTenantUsage(backwards, metadata=bearer(token)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"end_time"}
    too_long = pb.GetTenantUsageRequest(
        tenant_id=tenant.tenant_id, start_time=timestamp_pb2.Timestamp(seconds=1_000_000_000)
    )
    error = await expect_error(
        mesh.tenants.GetTenantUsage(too_long, metadata=bearer(token)), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"
    )
    assert violation_fields(error) == {"start_time"}
    # Times no Timestamp may hold (past 9999, negative nanos), and an end whose default start
    # would fall before the year 1: (the field set, the field the answer names, its value).
    for given, named, stamp in (
        ("end_time", "end_time", timestamp_pb2.Timestamp(seconds=299_406_375_623)),
        ("start_time", "start_time", timestamp_pb2.Timestamp(seconds=1_000_000_000, nanos=-5)),
        ("end_time", "start_time", timestamp_pb2.Timestamp(seconds=-62_135_596_800 + 3600)),
    ):
        request = pb.GetTenantUsageRequest(tenant_id=tenant.tenant_id)
        getattr(request, given).CopyFrom(stamp)
        error = await expect_error(
            mesh.tenants.GetTenantUsage(request, metadata=bearer(token)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FIELD_INVALID",
        )
        assert violation_fields(error) == {named}


async def test_a_tenant_admin_reads_no_tenant_usage_and_learns_nothing_of_other_tenants(mesh: Platform) -> None:
    # Usage is the operator's: a tenant administrator is refused for their own tenant, another
    # tenant and a tenant that does not exist alike, so the answer tells no tenant ids apart.
    token = await mesh.admin_token()
    acme, other = await mesh.create_tenant("usage-own"), await mesh.create_tenant("usage-foreign")
    email, password = f"admin-{uuid.uuid4().hex[:8]}@example.test", "usage-tenant-admin-password-1"
    await mesh.admin_stub("UserService").CreateUser(
        admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=password, roles=["tenant-admin"]),
        metadata=(*bearer(token), ("x-tenant-id", acme.tenant_id)),
    )
    # The other tenant has traffic to hide.
    channel, users = users_from_the_edge(mesh)
    try:
        await users.ListUsers(admin_pb.ListUsersRequest(), metadata=(*bearer(token), ("x-tenant-id", other.tenant_id)))
    finally:
        await channel.close()
    assert mesh.runtime.usage is not None
    await mesh.runtime.usage.flush()
    tenant_admin = bearer((await mesh.login(acme.slug, email, password)).access_token)
    for tenant_id in (acme.tenant_id, other.tenant_id, str(uuid.uuid4())):
        await expect_error(
            mesh.tenants.GetTenantUsage(pb.GetTenantUsageRequest(tenant_id=tenant_id), metadata=tenant_admin),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        )
        # Naming the tenant in the header does not lend the caller the operator's scope either.
        await expect_error(
            mesh.tenants.GetTenantUsage(
                pb.GetTenantUsageRequest(tenant_id=tenant_id), metadata=(*tenant_admin, ("x-tenant-id", tenant_id))
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        )
    # The operator still reads it: the refusals above are about the caller, not the data.
    assert await usage(mesh, other.tenant_id, token) == [(1, 0)]


async def test_tenantctl_prints_usage_per_hour(
    db_backend_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without mesh TLS no caller has an identity: every call made for a tenant counts.
    async with platform(db_backend_url, tmp_path) as mesh:
        token = await mesh.admin_token()
        tenant = await mesh.create_tenant("usage-cli")
        await mesh.admin_stub("UserService").ListUsers(
            admin_pb.ListUsersRequest(), metadata=(*bearer(token), ("x-tenant-id", tenant.tenant_id))
        )
        assert mesh.runtime.usage is not None
        await mesh.runtime.usage.flush()
        target = ["--target", mesh.runtime.addresses["tenants"], "--token", token]
        args = build_parser().parse_args([*target, "--json", "tenants", "usage", tenant.tenant_id, "--hours", "2"])
        assert await run(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["requests"], entry["errors"]) == (1, 0)
    assert entry["hour"].endswith(":00:00Z")
