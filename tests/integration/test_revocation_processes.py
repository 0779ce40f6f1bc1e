"""Revocation across separate processes: tenants and auth each in their own
process on MariaDB + Redis, as in production.

A logout at the auth process must make the tenants process refuse the
session's token within a second, with no call to auth per request; a tenants
process started after the logout must refuse it too (seeded from Redis); a
tenant suspended at one process must be refused by the others within a second.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy.engine import make_url
from tenantmesh.auth.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    user_pb2,
)
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from tests.conftest import MYSQL_URL_ENV, mysql_execute, unique_mysql_url
from tests.support.errors import assert_error
from tests.support.processes import ProcessMesh, ServiceProcess, process_mesh

pytestmark = [pytest.mark.mysql, pytest.mark.redis]

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "correct-horse-battery-staple"
USER_PASSWORD = "tr0ub4dor-and-3-more"
LIMIT_SECONDS = 1.0


@pytest.fixture
async def mysql_core_url() -> AsyncIterator[str]:
    """A fresh core database on TEST_MYSQL_URL's server; skips when unset, fails when unreachable."""
    if not os.environ.get(MYSQL_URL_ENV):
        pytest.skip(f"{MYSQL_URL_ENV} not set")
    url = unique_mysql_url()
    await mysql_execute(url, "SELECT 1")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await mysql_execute(url, f"DROP DATABASE IF EXISTS `{url.database}`")


def bearer(token: str, tenant_id: str | None = None) -> tuple[tuple[str, str], ...]:
    metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
    return metadata + ((("x-tenant-id", tenant_id),) if tenant_id else ())


def tenants_stub(process: ServiceProcess) -> Any:
    return tenant_service_pb2_grpc.TenantServiceStub(process.channel)


def auth_stub(process: ServiceProcess) -> Any:
    return auth_service_pb2_grpc.AuthServiceStub(process.channel)


async def time_until_refused(
    call: Callable[[], Awaitable[Any]], code: grpc.StatusCode, reason: str, since: float, limit: float = 5.0
) -> float:
    """Calls ``call`` in a loop until it fails with ``code``/``reason``; seconds since ``since``.

    Any other failure ends the loop at once (and the test): it is a wrong answer, not a late one.
    """
    while True:
        try:
            await call()
        except grpc.aio.AioRpcError as error:
            assert_error(error, code, reason)
            return time.monotonic() - since
        if time.monotonic() - since > limit:
            pytest.fail(f"still accepted {limit}s after the change")


async def login(auth: ServiceProcess, tenant: str, email: str, password: str) -> auth_service_pb2.TokenSet:
    response = await auth_stub(auth).Login(auth_service_pb2.LoginRequest(tenant=tenant, email=email, password=password))
    tokens: auth_service_pb2.TokenSet = response.tokens
    return tokens


async def drop_tenant_databases(database_url: str, tenants: list[tenant_pb2.Tenant]) -> None:
    names = [t.database.database for t in tenants if t.database.database]
    if names:
        await mysql_execute(make_url(database_url), *(f"DROP DATABASE IF EXISTS `{name}`" for name in names))


async def test_revocation_reaches_other_processes_within_a_second(
    mysql_core_url: str, redis_url: str, tmp_path: Path
) -> None:
    created: list[tenant_pb2.Tenant] = []
    async with process_mesh(
        mysql_core_url, redis_url, tmp_path / "mesh", admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
    ) as mesh:
        try:
            await _scenario(mesh, created)
        finally:
            await drop_tenant_databases(mysql_core_url, created)


async def _scenario(mesh: ProcessMesh, created: list[tenant_pb2.Tenant]) -> None:
    # Tenants first: the two processes would otherwise race to create the core database's tables.
    tenants = await mesh.start("tenants")
    auth = await mesh.start("auth")

    admin = (await login(auth, "platform", ADMIN_EMAIL, ADMIN_PASSWORD)).access_token
    tenant = (
        await tenants_stub(tenants).CreateTenant(
            tenant_service_pb2.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=f"rv-{uuid.uuid4().hex[:10]}")),
            metadata=bearer(admin),
        )
    ).tenant
    created.append(tenant)
    assert tenant.state == tenant_pb2.TENANT_STATE_ACTIVE
    email = f"user-{uuid.uuid4().hex[:8]}@example.test"
    await admin_service_pb2_grpc.UserServiceStub(auth.channel).CreateUser(
        admin_service_pb2.CreateUserRequest(user=user_pb2.User(email=email), password=USER_PASSWORD),
        metadata=bearer(admin, tenant.tenant_id),
    )

    # -- logout at auth -> refused by the tenants process ------------------------------------
    session = await login(auth, tenant.slug, email, USER_PASSWORD)
    other_session = await login(auth, tenant.slug, email, USER_PASSWORD)

    def current_tenant(process: ServiceProcess, token: str) -> Callable[[], Awaitable[Any]]:
        return lambda: tenants_stub(process).GetCurrentTenant(
            tenant_service_pb2.GetCurrentTenantRequest(), metadata=bearer(token, tenant.tenant_id), timeout=5
        )

    # Accepted (and so cached as verified) before the logout.
    await current_tenant(tenants, session.access_token)()
    await current_tenant(tenants, other_session.access_token)()

    since = time.monotonic()
    await auth_stub(auth).Logout(auth_service_pb2.LogoutRequest(), metadata=bearer(session.access_token))
    logout_latency = await time_until_refused(
        current_tenant(tenants, session.access_token), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_REVOKED", since
    )
    print(f"\nlogout at auth -> refused by the tenants process after {logout_latency * 1000:.0f} ms")
    assert logout_latency < LIMIT_SECONDS
    # Only that session: the user's other session goes on working.
    await current_tenant(tenants, other_session.access_token)()

    # -- a process started after the logout knows it too (from Redis) ------------------------
    late = await mesh.start("tenants", instance="tenants-late")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await current_tenant(late, session.access_token)()
    assert_error(caught.value, grpc.StatusCode.UNAUTHENTICATED, "TOKEN_REVOKED")
    await current_tenant(late, other_session.access_token)()

    # -- tenant suspended at the first tenants process -> refused by auth and the late process --
    async def get_me() -> Any:
        return await auth_stub(auth).GetMe(
            auth_service_pb2.GetMeRequest(), metadata=bearer(other_session.access_token), timeout=5
        )

    await get_me()  # auth has the tenant cached as ACTIVE now
    since = time.monotonic()
    await tenants_stub(tenants).SuspendTenant(
        tenant_service_pb2.SuspendTenantRequest(tenant_id=tenant.tenant_id), metadata=bearer(admin)
    )
    auth_latency = await time_until_refused(get_me, grpc.StatusCode.FAILED_PRECONDITION, "TENANT_SUSPENDED", since)
    late_latency = await time_until_refused(
        current_tenant(late, other_session.access_token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TENANT_SUSPENDED",
        since,
    )
    print(
        f"tenant suspended at tenants -> refused by auth after {auth_latency * 1000:.0f} ms, "
        f"by the late tenants process after {late_latency * 1000:.0f} ms"
    )
    assert auth_latency < LIMIT_SECONDS
    assert late_latency < LIMIT_SECONDS
