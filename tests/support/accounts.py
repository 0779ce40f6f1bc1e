"""Helpers for account tests on the in-process platform: tenants, people, and TOTP codes computed
by an independent implementation (pyotp), never by the server's own code."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import auth_service_pb2_grpc, user_pb2
from tenantmesh.tenants.v1 import tenant_pb2

from tests.support.platform import Platform, bearer, platform

PASSWORD = "a-long-enough-passphrase-9"
STEP = 30


@dataclass
class Account:
    user_id: str
    email: str
    slug: str
    tenant_id: str
    token: str = ""
    secret: str = ""  # base32 TOTP secret once enrolled
    recovery_codes: list[str] = field(default_factory=list)

    def code(self, offset_steps: int = 0) -> str:
        """The TOTP code of the current time step plus ``offset_steps`` (pyotp)."""
        return str(pyotp.TOTP(self.secret).at(int(time.time()) + offset_steps * STEP))


async def fresh_step(margin: float = 4.0) -> None:
    """Waits until at least ``margin`` seconds are left in the current 30 s step, so that codes of
    the steps around "now" stay valid for the rest of a short test."""
    left = STEP - time.time() % STEP
    if left < margin:
        await asyncio.sleep(left + 0.05)


@dataclass
class Accounts:
    mesh: Platform
    admin: str  # platform administrator's access token
    tenants: list[tenant_pb2.Tenant] = field(default_factory=list)

    @property
    def mfa(self) -> Any:
        return auth_service_pb2_grpc.MfaServiceStub(self.mesh.channel("auth"))

    def as_admin(self, tenant_id: str) -> tuple[tuple[str, str], ...]:
        return (*bearer(self.admin), ("x-tenant-id", tenant_id))

    async def tenant(self, stem: str = "acc") -> tenant_pb2.Tenant:
        created = await self.mesh.create_tenant(f"{stem}-{uuid.uuid4().hex[:10]}")
        self.tenants.append(created)
        return created

    async def person(self, tenant: tenant_pb2.Tenant, roles: Sequence[str] = (), email: str = "") -> Account:
        email = email or f"p-{uuid.uuid4().hex[:10]}@example.test"
        response = await self.mesh.admin_stub("UserService").CreateUser(
            admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=PASSWORD, roles=list(roles)),
            metadata=self.as_admin(tenant.tenant_id),
        )
        account = Account(response.user.user_id, email, tenant.slug, tenant.tenant_id)
        login = await self.login(account)
        account.token = login.tokens.access_token
        return account

    async def login(self, account: Account, slug: str = "") -> auth_pb.LoginResponse:
        response: auth_pb.LoginResponse = await self.mesh.auth.Login(
            auth_pb.LoginRequest(tenant=slug or account.slug, email=account.email, password=PASSWORD)
        )
        return response

    async def enrol(self, account: Account) -> None:
        """Enrols TOTP through MfaService, confirming with the previous step's code (so the current
        and the next step's codes are left for the test)."""
        enrolment = await self.mfa.EnrolTotp(auth_pb.EnrolTotpRequest(), metadata=bearer(account.token))
        account.secret = enrolment.totp.secret
        confirmed = await self.mfa.ConfirmTotp(
            auth_pb.ConfirmTotpRequest(code=account.code(-1)), metadata=bearer(account.token)
        )
        account.recovery_codes = list(confirmed.recovery_codes)

    async def complete(self, challenge: auth_pb.MfaChallenge, code: str) -> auth_pb.CompleteMfaChallengeResponse:
        response: auth_pb.CompleteMfaChallengeResponse = await self.mesh.auth.CompleteMfaChallenge(
            auth_pb.CompleteMfaChallengeRequest(challenge_token=challenge.challenge_token, code=code)
        )
        return response

    async def flows_drained(self) -> None:
        """Waits for password reset requests still being processed after their answer."""
        await self.mesh.auth_app.flows.resets.drain()

    async def cleanup(self) -> None:
        from tenantmesh.tenants.v1 import tenant_service_pb2  # noqa: PLC0415

        for tenant in self.tenants:
            await self.mesh.tenants.DeleteTenant(
                tenant_service_pb2.DeleteTenantRequest(tenant_id=tenant.tenant_id), metadata=bearer(self.admin)
            )


def lockout_env(max_failures: int, *, address_max_failures: int, lock_seconds: int = 120) -> dict[str, str]:
    """Settings of a platform for lockout tests: an account locks after ``max_failures`` wrong
    attempts, a client address after ``address_max_failures``, for ``lock_seconds`` (by default
    long enough that no lock runs out during a test)."""
    return {
        "TENANTMESH_LOGIN_MAX_FAILURES": str(max_failures),
        "TENANTMESH_LOGIN_LOCK_SECONDS": str(lock_seconds),
        "TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES": str(address_max_failures),
    }


@contextlib.asynccontextmanager
async def accounts_on(database_url: str, data_dir: Path, env: dict[str, str]) -> AsyncIterator[Accounts]:
    """A platform with ``env`` and an Accounts world on it, its tenants deleted afterwards."""
    async with platform(database_url, data_dir, env) as mesh:
        world = Accounts(mesh, await mesh.admin_token())
        try:
            yield world
        finally:
            await world.cleanup()
