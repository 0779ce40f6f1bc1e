"""Lockout that cannot be walked around: every spelling of a tenant and an email shares one
counter (the resolved tenant id and the normalised address), ChangePassword's wrong current
passwords count like failed logins, and failed API-key exchanges are throttled per client
address; all of them are audited."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2
from tenantmesh.tenants.v1 import tenant_pb2

from tests.support.accounts import lockout_env
from tests.support.errors import expect_error
from tests.support.platform import Platform, bearer, platform

PASSWORD = "tr0ub4dor-and-3-more"
WRONG = "not-the-password-at-all"
MAX_FAILURES = 3
ADDRESS_MAX_FAILURES = 4
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
LOCKED = grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.fixture
async def mesh(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    env = lockout_env(MAX_FAILURES, address_max_failures=ADDRESS_MAX_FAILURES)
    async with platform(db_backend_url, tmp_path, env=env) as running:
        yield running


async def _member(mesh: Platform) -> tuple[tenant_pb2.Tenant, str, str]:
    """(tenant, member email, administrator token)."""
    admin = await mesh.admin_token()
    tenant = await mesh.create_tenant(f"lk-{uuid.uuid4().hex[:8]}")
    email = f"u-{uuid.uuid4().hex[:10]}@example.test"
    await mesh.admin_stub("UserService").CreateUser(
        admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=PASSWORD),
        metadata=(*bearer(admin), ("x-tenant-id", tenant.tenant_id)),
    )
    return tenant, email, admin


async def _audited(mesh: Platform, admin: str, action: str) -> list[user_pb2.AuditEvent]:
    response = await mesh.admin_stub("AuditService").ListPlatformAuditEvents(
        admin_pb.ListPlatformAuditEventsRequest(action_prefix=action, page_size=500), metadata=bearer(admin)
    )
    return [e for e in response.audit_events if e.action == action]


async def _login(mesh: Platform, tenant: str, email: str, password: str) -> None:
    await mesh.auth.Login(auth_pb.LoginRequest(tenant=tenant, email=email, password=password))


async def test_every_spelling_of_a_locked_account_is_locked(mesh: Platform) -> None:
    tenant, email, _ = await _member(mesh)
    for _ in range(MAX_FAILURES):
        await expect_error(_login(mesh, tenant.slug, email, WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
    variants = [
        (tenant.slug, email),
        (f" {tenant.slug}", email),
        (f"{tenant.slug}\u00a0", email),
        (tenant.slug.upper(), email),
        (tenant.tenant_id, email),
        (tenant.tenant_id.upper(), email),
        (f"\t{tenant.tenant_id} ", email),
        (tenant.slug, email.upper()),
        (tenant.slug, f" {email}\u00a0"),
    ]
    for reference, address in variants:
        # The right password, while locked: refused under every spelling, none a fresh counter.
        await expect_error(_login(mesh, reference, address, PASSWORD), LOCKED, "LOGIN_LOCKED")


async def test_change_password_guesses_count_like_logins_and_are_audited(mesh: Platform) -> None:
    tenant, email, admin = await _member(mesh)
    token = (await mesh.login(tenant.slug, email, PASSWORD)).access_token

    async def change(current: str) -> None:
        await mesh.auth.ChangePassword(
            auth_pb.ChangePasswordRequest(current_password=current, new_password="a-much-better-passphrase-7"),
            metadata=bearer(token),
        )

    for _ in range(MAX_FAILURES):
        await expect_error(change(WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
    # Locked: the right current password does not get through now, nor does a login.
    await expect_error(change(PASSWORD), LOCKED, "LOGIN_LOCKED")
    await expect_error(_login(mesh, tenant.slug, email, PASSWORD), LOCKED, "LOGIN_LOCKED")
    failures = await _audited(mesh, admin, "auth.password.change_failed")
    assert len(failures) == MAX_FAILURES
    assert {event.tenant_id for event in failures} == {tenant.tenant_id}


async def test_failed_api_key_exchanges_are_throttled_and_audited(mesh: Platform) -> None:
    admin = await mesh.admin_token()

    async def exchange(key: str) -> None:
        await mesh.auth.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=key))

    guesses = [f"tm_{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex}" for _ in range(ADDRESS_MAX_FAILURES)]
    for guess in guesses:
        await expect_error(exchange(guess), UNAUTHENTICATED, "API_KEY_INVALID")
    await expect_error(exchange("tm_another_guess"), LOCKED, "LOGIN_LOCKED")
    failures = await _audited(mesh, admin, "auth.api_key.failed")
    assert len(failures) == ADDRESS_MAX_FAILURES
    # No part of a guessed key is written down.
    assert not [e for e in failures if any(guess.split("_")[2] in str(e) for guess in guesses)]


async def test_refused_tenant_switches_are_throttled_and_audited(mesh: Platform) -> None:
    tenant, email, admin = await _member(mesh)
    token = (await mesh.login(tenant.slug, email, PASSWORD)).access_token

    async def switch(reference: str) -> None:
        await mesh.auth.SwitchTenant(auth_pb.SwitchTenantRequest(tenant=reference), metadata=bearer(token))

    # A tenant that exists (the caller is not a member) and ones that do not are refused alike,
    # and each refusal counts the same: the answers tell no tenant's existence.
    foreign = await mesh.create_tenant(f"lk-foreign-{uuid.uuid4().hex[:8]}")
    references = [foreign.slug, str(uuid.uuid4()), foreign.tenant_id, f"lk-none-{uuid.uuid4().hex[:8]}"]
    for reference in references[:ADDRESS_MAX_FAILURES]:
        await expect_error(switch(reference), grpc.StatusCode.PERMISSION_DENIED, "NOT_A_MEMBER")
    # Locked now, even for a tenant the caller does belong to.
    await expect_error(switch(tenant.slug), LOCKED, "SWITCH_RATE_LIMITED")
    refused = await _audited(mesh, admin, "auth.tenant.switch_refused")
    assert len(refused) == ADDRESS_MAX_FAILURES
