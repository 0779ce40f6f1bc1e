"""Revocations survive a restart without Redis: a logged-out session and a disabled user's
tokens stay refused after the platform is started again on the same database (they used to
be accepted again until they expired, the list having lived only in memory)."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2

from tests.support.errors import expect_error
from tests.support.platform import Platform, bearer, platform

PASSWORD = "tr0ub4dor-and-3-more"


def same_keys(first_data_dir: Path) -> dict[str, str]:
    """The first start's key-encryption key: the restart must open the same signing keys."""
    return {"TENANTMESH_KEY_ENCRYPTION_KEY": (first_data_dir / "secrets" / "key-encryption-key").read_text().strip()}


async def _member(mesh: Platform, admin: str, tenant_id: str) -> user_pb2.User:
    response = await mesh.admin_stub("UserService").CreateUser(
        admin_pb.CreateUserRequest(
            user=user_pb2.User(email=f"u-{uuid.uuid4().hex[:10]}@example.test"), password=PASSWORD
        ),
        metadata=(*bearer(admin), ("x-tenant-id", tenant_id)),
    )
    user: user_pb2.User = response.user
    return user


async def _get_me(mesh: Platform, token: str) -> None:
    await mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(token))


async def test_revocations_are_still_in_force_after_a_restart(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        admin = await mesh.admin_token()
        tenant = await mesh.create_tenant(f"rv-{uuid.uuid4().hex[:8]}")
        leaving, disabled, staying = [await _member(mesh, admin, tenant.tenant_id) for _ in range(3)]
        logged_out = (await mesh.login(tenant.slug, leaving.email, PASSWORD)).access_token
        await mesh.auth.Logout(auth_pb.LogoutRequest(), metadata=bearer(logged_out))
        disabled_token = (await mesh.login(tenant.slug, disabled.email, PASSWORD)).access_token
        await mesh.admin_stub("UserService").DisableUser(
            admin_pb.DisableUserRequest(user_id=disabled.user_id),
            metadata=(*bearer(admin), ("x-tenant-id", tenant.tenant_id)),
        )
        kept = (await mesh.login(tenant.slug, staying.email, PASSWORD)).access_token
        for token in (logged_out, disabled_token):
            await expect_error(_get_me(mesh, token), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_REVOKED")

    # A data directory of its own (the first start's service key file names a stale auth
    # address); the same database and keys, no Redis.
    async with platform(db_backend_url, tmp_path / "restart", same_keys(tmp_path)) as mesh:
        for token in (logged_out, disabled_token):
            await expect_error(_get_me(mesh, token), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_REVOKED")
        await _get_me(mesh, kept)  # not everything is refused: a token never revoked still works
