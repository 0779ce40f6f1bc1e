"""What a fault does to the checks other processes make: a revoked session, a suspended tenant.

Each probe presents a token to a process over and over (every 0.2 s) and records when the
process first refuses it, so a scenario can state how long a change made during the fault
stayed unknown there.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from tenantmesh.auth.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    user_pb2,
)
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from tests.faults.load import USER_PASSWORD, bearer
from tests.faults.platform import FaultPlatform

PROBE_EVERY_SECONDS = 0.2

Call = Callable[[], Awaitable[object]]


class Watch:
    """Calls ``call`` until it fails with ``refused_with``; counts the answers before that."""

    def __init__(self, call: Call, refused_with: grpc.StatusCode) -> None:
        self._call = call
        self._refused_with = refused_with
        self.accepted = 0
        self.refused_at: float | None = None
        self.other_outcomes: set[str] = set()

    async def run(self, until: float) -> None:
        while self.refused_at is None and time.monotonic() < until:
            try:
                await self._call()
                self.accepted += 1
            except grpc.aio.AioRpcError as error:
                if error.code() == self._refused_with:
                    self.refused_at = time.monotonic()
                    return
                self.other_outcomes.add(error.code().name)
            await asyncio.sleep(PROBE_EVERY_SECONDS)

    def lag(self, since: float) -> float | None:
        return None if self.refused_at is None else self.refused_at - since


class RevocationProbe:
    """A session of the load's login user, logged out at auth and presented to the tenants process."""

    def __init__(self, platform: FaultPlatform) -> None:
        self._platform = platform
        self._auth: Any = auth_service_pb2_grpc.AuthServiceStub(platform.auth.channel)
        self._tenants: Any = tenant_service_pb2_grpc.TenantServiceStub(platform.tenants.channel)
        self.token = ""
        self.logged_out_at = 0.0
        self.watch = Watch(self._use, grpc.StatusCode.UNAUTHENTICATED)

    async def _use(self) -> None:
        metadata = bearer(self.token, self._platform.targets.tenant_id)
        await self._tenants.GetCurrentTenant(tenant_service_pb2.GetCurrentTenantRequest(), metadata=metadata, timeout=5)

    async def log_in(self) -> None:
        targets = self._platform.targets
        response = await self._auth.Login(
            auth_service_pb2.LoginRequest(tenant=targets.tenant_slug, email=targets.login_email, password=USER_PASSWORD)
        )
        self.token = response.tokens.access_token
        await self._use()

    async def log_out(self) -> None:
        await self._auth.Logout(
            auth_service_pb2.LogoutRequest(), metadata=bearer(self.token, self._platform.targets.tenant_id), timeout=10
        )
        self.logged_out_at = time.monotonic()


class SuspensionProbe:
    """A tenant of its own (the load's must stay active) with a logged-in user, suspended during the
    fault; its token is presented to the tenants process (GetCurrentTenant) and to the auth process
    (GetMe), whose tenant-state caches the suspension event would drop."""

    def __init__(self, platform: FaultPlatform) -> None:
        self._platform = platform
        self._auth: Any = auth_service_pb2_grpc.AuthServiceStub(platform.auth.channel)
        self._tenants: Any = tenant_service_pb2_grpc.TenantServiceStub(platform.tenants.channel)
        self.tenant_id = ""
        self.token = ""
        self.suspended_at = 0.0
        self.at_tenants = Watch(self._use_tenants, grpc.StatusCode.FAILED_PRECONDITION)
        self.at_auth = Watch(self._use_auth, grpc.StatusCode.FAILED_PRECONDITION)

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.token, self.tenant_id)

    async def _use_tenants(self) -> None:
        request = tenant_service_pb2.GetCurrentTenantRequest()
        await self._tenants.GetCurrentTenant(request, metadata=self._metadata(), timeout=5)

    async def _use_auth(self) -> None:
        await self._auth.GetMe(auth_service_pb2.GetMeRequest(), metadata=self._metadata(), timeout=5)

    async def prepare(self) -> None:
        admin = self._platform.targets.admin_token
        # "fl-" as the load's own tenant: made outside the record, the checker leaves its database be.
        slug = f"fl-s{uuid.uuid4().hex[:9]}"
        created = await self._tenants.CreateTenant(
            tenant_service_pb2.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug)), metadata=bearer(admin)
        )
        self.tenant_id = created.tenant.tenant_id
        email = f"probe-{uuid.uuid4().hex[:8]}@example.test"
        await admin_service_pb2_grpc.UserServiceStub(self._platform.auth.channel).CreateUser(
            admin_service_pb2.CreateUserRequest(user=user_pb2.User(email=email), password=USER_PASSWORD),
            metadata=bearer(admin, self.tenant_id),
        )
        login = await self._auth.Login(auth_service_pb2.LoginRequest(tenant=slug, email=email, password=USER_PASSWORD))
        self.token = login.tokens.access_token

    async def suspend(self) -> None:
        """Suspends the tenant just after both processes cached it as active: the worst case."""
        await self._use_tenants()
        await self._use_auth()
        request = tenant_service_pb2.SuspendTenantRequest(tenant_id=self.tenant_id)
        await self._tenants.SuspendTenant(request, metadata=bearer(self._platform.targets.admin_token), timeout=10)
        self.suspended_at = time.monotonic()

    async def watch(self, until: float) -> None:
        await asyncio.gather(self.at_tenants.run(until), self.at_auth.run(until))
