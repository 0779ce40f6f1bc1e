"""First use of the tenant header: a slug in ``x-tenant-id`` is told what the header takes
(it used to answer "no such tenant" with no hint), an id in upper case or with spaces works,
and a platform administrator naming a tenant gets GET /v1/current-tenant as the README shows
(it used to be refused)."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from tests.support.errors import expect_error
from tests.support.platform import Platform, bearer, platform


async def _current(mesh: Platform, token: str, header: str) -> str:
    response = await mesh.tenants.GetCurrentTenant(
        pb.GetCurrentTenantRequest(), metadata=(*bearer(token), ("x-tenant-id", header))
    )
    return str(response.tenant.tenant_id)


async def test_the_tenant_header_takes_an_id_and_says_so(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        admin = await mesh.admin_token()
        tenant = await mesh.create_tenant(f"hd-{uuid.uuid4().hex[:8]}")
        # A platform administrator naming the tenant: allowed (platform override), any spelling of the id.
        for header in (tenant.tenant_id, tenant.tenant_id.upper(), f" {tenant.tenant_id} "):
            assert await _current(mesh, admin, header) == tenant.tenant_id
        for header in (tenant.slug, "no-such-tenant"):
            await expect_error(_current(mesh, admin, header), grpc.StatusCode.INVALID_ARGUMENT, "TENANT_HEADER_INVALID")
        # An id that names no tenant is still simply not found.
        await expect_error(_current(mesh, admin, str(uuid.uuid4())), grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND")
