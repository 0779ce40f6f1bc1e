"""End to end in-process: login, call with the token, refresh, logout."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from tests.support.errors import expect_error
from tests.support.platform import bearer, platform


async def test_token_lifecycle(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        tokens = await mesh.login("platform", "admin@example.test", "correct-horse-battery-staple")
        listed = await mesh.tenants.ListTenants(pb.ListTenantsRequest(), metadata=bearer(tokens.access_token))
        assert [t.slug for t in listed.tenants] == ["platform"]

        await expect_error(
            mesh.tenants.ListTenants(pb.ListTenantsRequest()), grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING"
        )

        refreshed = (await mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=tokens.refresh_token))).tokens
        assert refreshed.refresh_token != tokens.refresh_token
        await mesh.auth.Logout(auth_pb.LogoutRequest(), metadata=bearer(refreshed.access_token))
        await asyncio.sleep(0.05)
        await expect_error(
            mesh.tenants.ListTenants(pb.ListTenantsRequest(), metadata=bearer(refreshed.access_token)),
            grpc.StatusCode.UNAUTHENTICATED,
            "TOKEN_REVOKED",
        )

        tenant = await mesh.create_tenant(f"smoke-{uuid.uuid4().hex[:8]}")
        await mesh.tenants.DeleteTenant(
            pb.DeleteTenantRequest(tenant_id=tenant.tenant_id), metadata=bearer(await mesh.admin_token())
        )
