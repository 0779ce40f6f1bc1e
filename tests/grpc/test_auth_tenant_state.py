"""Credentials of a tenant that is not active mint no tokens: Refresh and ExchangeApiKey
refuse for a suspended tenant (and work again once it is resumed) and for a deleted one,
whose memberships, roles, service accounts and sessions the auth service removes."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
from sqlalchemy import func, select
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb

from services.auth.models import MembershipRow, RoleRow, ServiceAccountRow, SessionRow, UserRow
from tests.support.errors import expect_error
from tests.support.platform import Platform, bearer, platform
from tests.support.registry import eventually

PASSWORD = "tr0ub4dor-and-3-more"


async def _credentials(mesh: Platform, admin: str, tenant_id: str, slug: str) -> tuple[str, str]:
    """(a member's refresh token, a service account's API key) in the tenant."""
    as_admin = (*bearer(admin), ("x-tenant-id", tenant_id))
    user = (
        await mesh.admin_stub("UserService").CreateUser(
            admin_pb.CreateUserRequest(
                user=user_pb2.User(email=f"u-{uuid.uuid4().hex[:8]}@example.test"), password=PASSWORD
            ),
            metadata=as_admin,
        )
    ).user
    await mesh.admin_stub("RoleService").CreateRole(
        admin_pb.CreateRoleRequest(role=user_pb2.Role(name="auditors", permissions=["auth.audit.list"])),
        metadata=as_admin,
    )
    account = await mesh.admin_stub("ServiceAccountService").CreateServiceAccount(
        admin_pb.CreateServiceAccountRequest(service_account=user_pb2.ServiceAccount(name="ci")), metadata=as_admin
    )
    tokens = await mesh.login(slug, user.email, PASSWORD)
    return tokens.refresh_token, account.api_key


async def _refresh(mesh: Platform, token: str) -> None:
    await mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=token))


async def _exchange(mesh: Platform, key: str) -> None:
    await mesh.auth.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=key))


async def test_a_suspended_tenant_mints_no_tokens_until_resumed(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        admin = await mesh.admin_token()
        tenant = await mesh.create_tenant(f"st-{uuid.uuid4().hex[:8]}")
        refresh_token, api_key = await _credentials(mesh, admin, tenant.tenant_id, tenant.slug)
        await mesh.tenants.SuspendTenant(
            tenants_pb.SuspendTenantRequest(tenant_id=tenant.tenant_id), metadata=bearer(admin)
        )
        refused = grpc.StatusCode.FAILED_PRECONDITION
        await expect_error(_refresh(mesh, refresh_token), refused, "TENANT_SUSPENDED")
        await expect_error(_exchange(mesh, api_key), refused, "TENANT_SUSPENDED")
        await mesh.tenants.ResumeTenant(
            tenants_pb.ResumeTenantRequest(tenant_id=tenant.tenant_id), metadata=bearer(admin)
        )
        # Nothing was spent while refused: the same credentials work again.
        await _refresh(mesh, refresh_token)
        await _exchange(mesh, api_key)


async def test_a_deleted_tenants_credentials_and_records_are_gone(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        admin = await mesh.admin_token()
        tenant = await mesh.create_tenant(f"dt-{uuid.uuid4().hex[:8]}")
        refresh_token, api_key = await _credentials(mesh, admin, tenant.tenant_id, tenant.slug)
        await mesh.tenants.DeleteTenant(
            tenants_pb.DeleteTenantRequest(tenant_id=tenant.tenant_id), metadata=bearer(admin)
        )
        unauthenticated = grpc.StatusCode.UNAUTHENTICATED
        await expect_error(_refresh(mesh, refresh_token), unauthenticated, "REFRESH_TOKEN_INVALID")
        await expect_error(_exchange(mesh, api_key), unauthenticated, "API_KEY_INVALID")

        async def left() -> dict[str, int]:
            async with mesh.runtime.db.core_session() as session:
                counts = {}
                for table in (MembershipRow, RoleRow, ServiceAccountRow):
                    query = select(func.count()).select_from(table).where(table.tenant_id == tenant.tenant_id)
                    counts[table.__tablename__] = (await session.execute(query)).scalar_one()
                open_sessions = select(func.count()).where(
                    SessionRow.tenant_id == tenant.tenant_id, SessionRow.revoke_time.is_(None)
                )
                counts["open sessions"] = (await session.execute(open_sessions)).scalar_one()
                return counts

        async def removed() -> bool:
            return not any((await left()).values())

        await eventually(removed, within=10)


async def test_a_deleted_tenants_people_who_belong_nowhere_else_are_deleted(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        admin = await mesh.admin_token()
        home, other = (
            await mesh.create_tenant(f"hm-{uuid.uuid4().hex[:8]}"),
            await mesh.create_tenant(f"ot-{uuid.uuid4().hex[:8]}"),
        )
        users = mesh.admin_stub("UserService")

        async def person(label: str) -> user_pb2.User:
            request = admin_pb.CreateUserRequest(
                user=user_pb2.User(email=f"{label}-{uuid.uuid4().hex[:8]}@example.test"), password=PASSWORD
            )
            created: user_pb2.User = (
                await users.CreateUser(request, metadata=(*bearer(admin), ("x-tenant-id", home.tenant_id)))
            ).user
            return created

        lone, shared = await person("lone"), await person("shared")
        await mesh.admin_stub("MembershipService").AddMembership(
            admin_pb.AddMembershipRequest(user_id=shared.user_id),
            metadata=(*bearer(admin), ("x-tenant-id", other.tenant_id)),
        )
        await mesh.tenants.DeleteTenant(
            tenants_pb.DeleteTenantRequest(tenant_id=home.tenant_id), metadata=bearer(admin)
        )

        async def identities() -> set[str]:
            async with mesh.runtime.db.core_session() as session:
                query = select(UserRow.user_id).where(UserRow.user_id.in_([lone.user_id, shared.user_id]))
                return set((await session.scalars(query)).all())

        async def lone_deleted() -> bool:
            return await identities() == {shared.user_id}

        await eventually(lone_deleted, within=10)
        # The person who also belongs to the other tenant still logs in there.
        assert (await mesh.login(other.slug, shared.email, PASSWORD)).access_token
