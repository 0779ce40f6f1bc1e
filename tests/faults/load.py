"""A steady, modest, open-loop load on a running platform, every request recorded.

Each kind of operation is started at its own fixed rate whatever the platform does (an
outage does not slow the arrivals down, as real clients do not wait for each other). An
operation retries a failure a client is told to retry (UNAVAILABLE, ABORTED) with the same
request id, as the SDKs do, until it is acknowledged or its retry budget is spent; every
attempt is kept in the :class:`LoadRecord`.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import struct_pb2
from tenantmesh.auth.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    user_pb2,
)
from tenantmesh.forms.v1 import form_service_pb2, form_service_pb2_grpc
from tenantmesh.registry.v1 import registry_service_pb2, registry_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from tests.faults.record import OK, Attempt, LoadRecord, Operation, outcome_of
from tests.support.errors import STATUS_DETAILS_KEY, retry_info, trailer

# A client gives each attempt this long; the platform must answer within it, even during a fault.
# Generous because the suite shares two cores with everything else a CI machine runs: a password
# hash (deliberately slow) waits for CPU there, and a late answer is not a hang.
ATTEMPT_DEADLINE_SECONDS = 10.0
# Retryable failures are retried for this long, then the operation is left unacknowledged.
RETRY_BUDGET_SECONDS = 20.0
# As the SDKs back off: the server's RetryInfo delay, else 0.1 s doubling per attempt, capped, with jitter.
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 5.0
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.DEADLINE_EXCEEDED})
USER_PASSWORD = "tr0ub4dor-and-3-more"


@dataclass(frozen=True)
class Rates:
    """Operations started per second, by kind."""

    tenant_creates: float = 0.5
    user_creates: float = 1.5
    logins: float = 1.0  # each followed by a refresh of the session it opened
    reads: float = 1.0  # GetTenant of the load's tenant
    # With ServiceTargets only: SubmitForm in the load's tenant (and each acknowledged tenant
    # create is followed by an EnableService for that tenant, at the tenant creates' rate).
    submissions: float = 0.5

    def per_second(self, with_services: bool = False) -> float:
        base = self.tenant_creates + self.user_creates + 2 * self.logins + self.reads
        return base + (self.tenant_creates + self.submissions if with_services else 0.0)


@dataclass(frozen=True)
class ServiceTargets:
    """The registry and forms processes, when the scenario runs them: a catalogue service the
    run's tenants enable, and a form published in the load's tenant that the load submits."""

    registry_channel: grpc.aio.Channel
    forms_channel: grpc.aio.Channel
    catalogue_service: str
    form_key: str


@dataclass
class Targets:
    """Where the load goes and as whom."""

    tenants_channel: grpc.aio.Channel
    auth_channel: grpc.aio.Channel
    admin_token: str
    # The tenant users are created in, and a user of it who logs in.
    tenant_id: str
    tenant_slug: str
    login_email: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    services: ServiceTargets | None = None


def _backoff(error: grpc.aio.AioRpcError, attempts: int) -> float:
    info = retry_info(error) if trailer(error, STATUS_DETAILS_KEY) is not None else None
    server_delay = float(info.retry_delay.ToTimedelta().total_seconds()) if info is not None else 0.0
    exponential = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * float(2 ** (attempts - 1)))
    return max(server_delay, exponential * random.uniform(0.5, 1.0))


def bearer(token: str, tenant_id: str | None = None) -> tuple[tuple[str, str], ...]:
    metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
    return metadata + ((("x-tenant-id", tenant_id),) if tenant_id else ())


class LoadGenerator:
    def __init__(self, targets: Targets, rates: Rates | None = None) -> None:
        self.targets = targets
        self.rates = rates or Rates()
        self.record = LoadRecord()
        self._tenants: Any = tenant_service_pb2_grpc.TenantServiceStub(targets.tenants_channel)
        self._users: Any = admin_service_pb2_grpc.UserServiceStub(targets.auth_channel)
        self._auth: Any = auth_service_pb2_grpc.AuthServiceStub(targets.auth_channel)
        self._enabled: Any = None
        self._submissions: Any = None
        if targets.services is not None:
            self._enabled = registry_service_pb2_grpc.EnabledServiceServiceStub(targets.services.registry_channel)
            self._submissions = form_service_pb2_grpc.SubmissionServiceStub(targets.services.forms_channel)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._counter = 0
        self._stopping = False
        self.started_at = 0.0
        self.stopped_at = 0.0

    @property
    def targeted_rate(self) -> float:
        return self.rates.per_second(with_services=self.targets.services is not None)

    def stop(self) -> None:
        """Ends the arrivals now (before ``run``'s time is up); started operations finish."""
        self._stopping = True

    async def run(self, seconds: float) -> None:
        """Starts operations at the configured rates for ``seconds`` (or until ``stop``), then
        waits for all of them."""
        self.started_at = time.monotonic()
        until = self.started_at + seconds
        await asyncio.gather(
            self._arrivals(self.rates.tenant_creates, until, self._create_tenant),
            self._arrivals(self.rates.user_creates, until, self._create_user),
            self._arrivals(self.rates.logins, until, self._login_and_refresh),
            self._arrivals(self.rates.reads, until, self._read_tenant),
            self._arrivals(self.rates.submissions if self._submissions else 0.0, until, self._submit_form),
        )
        self.stopped_at = time.monotonic()
        await asyncio.gather(*self._in_flight)

    async def _arrivals(self, rate: float, until: float, operation: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if rate <= 0:
            return
        interval = 1.0 / rate
        next_start = time.monotonic()
        while next_start < until and not self._stopping:
            task = asyncio.create_task(operation())
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            next_start += interval
            await asyncio.sleep(max(0.0, next_start - time.monotonic()))

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    async def _attempts(
        self,
        operation: Operation,
        call: Callable[[], Awaitable[str]],
        *,
        already_done: grpc.StatusCode | None = None,
        retry: bool = True,
    ) -> str | None:
        """Runs ``call`` until acknowledged or out of budget; returns what it acknowledged.

        ``already_done``: the code a retry gets when an earlier attempt did write (the write
        has a natural key); after a failed attempt it counts as the acknowledgement.
        """
        self.record.operations.append(operation)
        give_up = time.monotonic() + RETRY_BUDGET_SECONDS
        while True:
            started = time.monotonic()
            try:
                acknowledged = await call()
            except grpc.aio.AioRpcError as error:
                attempt = Attempt(started, time.monotonic(), outcome_of(error))
                operation.attempts.append(attempt)
                if already_done is not None and error.code() == already_done and len(operation.attempts) > 1:
                    attempt.acknowledges = True
                    operation.acknowledged_ids.append("")
                    return ""
                if not retry or error.code() not in RETRYABLE or time.monotonic() > give_up:
                    return None
                await asyncio.sleep(_backoff(error, len(operation.attempts)))
                continue
            operation.attempts.append(Attempt(started, time.monotonic(), OK))
            operation.acknowledged_ids.append(acknowledged)
            return acknowledged

    async def _create_tenant(self) -> None:
        slug = f"f{self.targets.run}-t{self._next()}"
        operation = Operation("tenant.create", slug, request_id=str(uuid.uuid4()))

        async def call() -> str:
            response = await self._tenants.CreateTenant(
                tenant_service_pb2.CreateTenantRequest(
                    tenant=tenant_pb2.Tenant(slug=slug), request_id=operation.request_id
                ),
                metadata=bearer(self.targets.admin_token),
                timeout=ATTEMPT_DEADLINE_SECONDS,
            )
            return str(response.tenant.tenant_id)

        tenant_id = await self._attempts(operation, call)
        if tenant_id and self._enabled is not None:
            await self._enable_service(tenant_id)

    async def _enable_service(self, tenant_id: str) -> None:
        assert self.targets.services is not None
        service = self.targets.services.catalogue_service
        operation = Operation("service.enable", tenant_id, request_id=str(uuid.uuid4()))

        async def call() -> str:
            response = await self._enabled.EnableService(
                registry_service_pb2.EnableServiceRequest(service=service, request_id=operation.request_id),
                metadata=bearer(self.targets.admin_token, tenant_id),
                timeout=ATTEMPT_DEADLINE_SECONDS,
            )
            return str(response.enabled_service.service)

        # A retry with the first attempt's request id returns that enablement, so no
        # ALREADY_EXISTS counts as an acknowledgement here.
        await self._attempts(operation, call)

    async def _submit_form(self) -> None:
        assert self.targets.services is not None
        form_key = self.targets.services.form_key
        answers = struct_pb2.Struct()
        answers.update({"n": self._next()})
        operation = Operation("form.submit", self.targets.tenant_id, request_id=str(uuid.uuid4()))

        async def call() -> str:
            response = await self._submissions.SubmitForm(
                form_service_pb2.SubmitFormRequest(form_key=form_key, answers=answers, request_id=operation.request_id),
                metadata=bearer(self.targets.admin_token, self.targets.tenant_id),
                timeout=ATTEMPT_DEADLINE_SECONDS,
            )
            return str(response.submission.submission_id)

        await self._attempts(operation, call)

    async def _create_user(self) -> None:
        email = f"f{self.targets.run}-u{self._next()}@example.test"
        operation = Operation("user.create", email)

        async def call() -> str:
            response = await self._users.CreateUser(
                admin_service_pb2.CreateUserRequest(user=user_pb2.User(email=email), password=USER_PASSWORD),
                metadata=bearer(self.targets.admin_token, self.targets.tenant_id),
                timeout=ATTEMPT_DEADLINE_SECONDS,
            )
            return str(response.user.user_id)

        # The email is the user's natural key: a retry of a write that happened is refused so.
        await self._attempts(operation, call, already_done=grpc.StatusCode.ALREADY_EXISTS)

    async def _read_tenant(self) -> None:
        operation = Operation("read", self.targets.tenant_id)

        async def call() -> str:
            response = await self._tenants.GetTenant(
                tenant_service_pb2.GetTenantRequest(tenant_id=self.targets.tenant_id),
                metadata=bearer(self.targets.admin_token),
                timeout=ATTEMPT_DEADLINE_SECONDS,
            )
            return str(response.tenant.tenant_id)

        # Not retried: a read that fails is what this load is there to see.
        await self._attempts(operation, call, retry=False)

    async def _login_and_refresh(self) -> None:
        login = Operation("login", self.targets.login_email)
        tokens: list[Any] = []

        async def log_in() -> str:
            response = await self._auth.Login(
                auth_service_pb2.LoginRequest(
                    tenant=self.targets.tenant_slug, email=self.targets.login_email, password=USER_PASSWORD
                ),
                timeout=ATTEMPT_DEADLINE_SECONDS,
            )
            tokens.append(response.tokens)
            return str(response.tokens.tenant_id)

        if await self._attempts(login, log_in) is None:
            return
        refresh = Operation("refresh", self.targets.login_email)

        async def refresh_session() -> str:
            response = await self._auth.Refresh(
                auth_service_pb2.RefreshRequest(refresh_token=tokens[-1].refresh_token),
                timeout=ATTEMPT_DEADLINE_SECONDS,
            )
            return str(response.tokens.refresh_token)[:8]

        # A refresh token is single-use: a retry after a lost answer would be taken for a stolen
        # token's reuse, so a client does not retry it (it logs in again).
        await self._attempts(refresh, refresh_session, retry=False)
