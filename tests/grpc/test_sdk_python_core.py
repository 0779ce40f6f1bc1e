"""The Python SDK's core (sdk/python) against real gRPC servers: retries only where repeating
is safe (reads, and creates whose request_id the SDK fills in once for every attempt), the
server's RetryInfo honoured, token renewal after an ended session, typed errors. The full
scenario through the edge with the built wheel is tests/edge/test_sdk_python.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status  # type: ignore[import-untyped]
from tenantmesh.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc
from tenantmesh_sdk import (
    AsyncClient,
    Client,
    DeadlineExceededError,
    MfaRequiredError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
)
from tenantmesh_sdk._credentials import Token

from services.auth.models import MfaChallengeRow
from tests.support.accounts import PASSWORD, Accounts
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, platform


class Flaky(meta_service_pb2_grpc.MetaServiceServicer, tenant_service_pb2_grpc.TenantServiceServicer):
    """Answers UNAVAILABLE (with a RetryInfo of 50 ms) to the first ``failures`` calls of each
    method, then succeeds; records what it was sent."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, list[Any]] = {}

    async def _maybe_fail(self, name: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        seen = self.calls.setdefault(name, [])
        seen.append((request, time.monotonic()))
        if len(seen) <= self.failures:
            status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message="try again")
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=50_000_000)))
            await context.abort_with_status(rpc_status.to_status(status))

    async def GetServerInfo(self, request: Any, context: Any) -> meta_service_pb2.GetServerInfoResponse:
        await self._maybe_fail("GetServerInfo", request, context)
        return meta_service_pb2.GetServerInfoResponse(product="tenantmesh")

    async def CreateTenant(self, request: Any, context: Any) -> tenant_service_pb2.CreateTenantResponse:
        await self._maybe_fail("CreateTenant", request, context)
        return tenant_service_pb2.CreateTenantResponse(tenant=request.tenant)

    async def SuspendTenant(self, request: Any, context: Any) -> tenant_service_pb2.SuspendTenantResponse:
        await self._maybe_fail("SuspendTenant", request, context)
        return tenant_service_pb2.SuspendTenantResponse()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[Flaky, str]]:
    servicer = Flaky(failures=2)  # type: ignore[abstract]  # only the RPCs the tests call
    server = grpc.aio.server()
    meta_service_pb2_grpc.add_MetaServiceServicer_to_server(servicer, server)
    tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"http://127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_reads_are_retried_after_the_servers_retry_delay(flaky: tuple[Flaky, str]) -> None:
    servicer, url = flaky
    async with AsyncClient(url) as client:
        info = await meta_service_pb2_grpc.MetaServiceStub(client.channel).GetServerInfo(
            meta_service_pb2.GetServerInfoRequest()
        )
    assert info.product == "tenantmesh"
    times = [at for _, at in servicer.calls["GetServerInfo"]]
    assert len(times) == 3
    assert all(later - earlier >= 0.045 for earlier, later in itertools.pairwise(times))


async def test_creates_are_retried_with_one_request_id(flaky: tuple[Flaky, str]) -> None:
    servicer, url = flaky
    async with AsyncClient(url) as client:
        stub = tenant_service_pb2_grpc.TenantServiceStub(client.channel)
        request = tenant_service_pb2.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="acme"))
        await stub.CreateTenant(request)
    ids = {sent.request_id for sent, _ in servicer.calls["CreateTenant"]}
    assert len(servicer.calls["CreateTenant"]) == 3
    assert len(ids) == 1
    assert ids != {""}
    assert request.request_id == ""  # the caller's message is left alone


async def test_other_writes_are_not_repeated_and_raise_typed_errors(flaky: tuple[Flaky, str]) -> None:
    # The sync client, in a thread: the server runs on this test's event loop.
    servicer, url = flaky

    def suspend() -> None:
        with Client(url) as client:
            stub = tenant_service_pb2_grpc.TenantServiceStub(client.channel)
            stub.SuspendTenant(tenant_service_pb2.SuspendTenantRequest(tenant_id="x"))

    with pytest.raises(UnavailableError) as raised:
        await asyncio.to_thread(suspend)
    assert len(servicer.calls["SuspendTenant"]) == 1
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.retry_delay == pytest.approx(0.05)


async def test_an_ended_session_is_replaced_by_a_new_login(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'core.db'}"
    async with platform(db, tmp_path) as mesh:
        url = f"http://{mesh.runtime.addresses['auth']}"
        async with AsyncClient.from_password(url, "platform", ADMIN_EMAIL, ADMIN_PASSWORD) as client:
            auth = auth_service_pb2_grpc.AuthServiceStub(client.channel)
            first = await auth.GetMe(auth_service_pb2.GetMeRequest())
            await auth.Logout(auth_service_pb2.LogoutRequest())  # the session (and its refresh token) ends
            again = await auth.GetMe(auth_service_pb2.GetMeRequest())
            assert again.user.user_id == first.user.user_id
            # A new session: the old token was refused, its refresh token too, so the SDK
            # logged in again (and made the call once more) without the caller noticing.
            assert again.session_id != first.session_id
            assert client.tenant_id == first.tenant_id


async def test_typed_errors_carry_reason_and_request_id(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'core.db'}"
    async with platform(db, tmp_path) as mesh:
        tenants_url = f"http://{mesh.runtime.addresses['tenants']}"
        token = await mesh.admin_token()

        def get() -> None:
            with Client(tenants_url) as client:
                stub = tenant_service_pb2_grpc.TenantServiceStub(client.channel)
                stub.GetTenant(
                    tenant_service_pb2.GetTenantRequest(slug="nope"),
                    metadata=(("authorization", f"Bearer {token}"),),
                )

        with pytest.raises(NotFoundError) as raised:
            await asyncio.to_thread(get)
        assert raised.value.reason == "TENANT_NOT_FOUND"
        assert raised.value.domain == "tenantmesh.dev"
        assert raised.value.request_id


class Busy(meta_service_pb2_grpc.MetaServiceServicer):
    """Answers RESOURCE_EXHAUSTED with the RetryInfo it is given, after ``pause`` seconds (the
    first call) and ``later_pause`` (the others)."""

    def __init__(self, retry_delay: float, pause: float = 0.0, later_pause: float = 0.0) -> None:
        self.retry_delay = retry_delay
        self.pauses = (pause, later_pause)
        self.calls: list[float] = []

    async def GetServerInfo(self, request: Any, context: Any) -> meta_service_pb2.GetServerInfoResponse:
        self.calls.append(time.monotonic())
        await asyncio.sleep(self.pauses[0] if len(self.calls) == 1 else self.pauses[1])
        status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="rate limited")
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(self.retry_delay * 1e9))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        await context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError  # abort_with_status raises


async def busy_server(servicer: Busy) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    meta_service_pb2_grpc.add_MetaServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"http://127.0.0.1:{port}"


async def test_a_deadline_bounds_the_retries_not_only_each_attempt() -> None:
    # The server asks for 3 s between attempts; the caller gives the call 0.5 s in all: no retry
    # fits, so the server's error comes at once (it took 9 s over 4 attempts).
    servicer = Busy(retry_delay=3.0)
    server, url = await busy_server(servicer)
    try:

        def sync_call() -> None:
            with Client(url) as client:
                stub = meta_service_pb2_grpc.MetaServiceStub(client.channel)
                stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), timeout=0.5)

        started = time.monotonic()
        with pytest.raises(ResourceExhaustedError):
            await asyncio.to_thread(sync_call)
        assert time.monotonic() - started < 0.5
        assert len(servicer.calls) == 1

        # Retries that fit are made, and stop before the deadline would pass.
        servicer.retry_delay, servicer.calls = 0.2, []
        started = time.monotonic()
        async with AsyncClient(url, timeout=0.5) as client:
            with pytest.raises(ResourceExhaustedError):
                await meta_service_pb2_grpc.MetaServiceStub(client.channel).GetServerInfo(
                    meta_service_pb2.GetServerInfoRequest()
                )
        assert time.monotonic() - started < 0.5
        assert 2 <= len(servicer.calls) <= 3
    finally:
        await server.stop(None)


async def test_each_attempt_gets_only_what_is_left_of_the_deadline() -> None:
    # The first attempt takes 0.3 s of the 0.6 s; the second would take 1 s: it is cut at the
    # call's deadline (0.6 s after the start), not 0.6 s after it began.
    servicer = Busy(retry_delay=0.05, pause=0.3, later_pause=1.0)
    server, url = await busy_server(servicer)
    try:
        async with AsyncClient(url) as client:
            started = time.monotonic()
            with pytest.raises(DeadlineExceededError):
                await meta_service_pb2_grpc.MetaServiceStub(client.channel).GetServerInfo(
                    meta_service_pb2.GetServerInfoRequest(), timeout=0.6
                )
            assert time.monotonic() - started < 0.8
        assert len(servicer.calls) == 2
    finally:
        await server.stop(None)


async def test_a_login_needing_a_second_factor_raises_and_keeps_no_token(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'core.db'}"
    async with platform(db, tmp_path) as mesh:
        world = Accounts(mesh, await mesh.admin_token())
        person = await world.person(await world.tenant("sdk-mfa"))
        await world.enrol(person)
        url = f"http://{mesh.runtime.addresses['auth']}"

        async def challenges() -> int:
            from sqlalchemy import func, select  # noqa: PLC0415

            async with mesh.runtime.db.core_session() as session:
                count = await session.scalar(
                    select(func.count()).select_from(MfaChallengeRow).where(MfaChallengeRow.user_id == person.user_id)
                )
            return int(count or 0)

        async with AsyncClient.from_password(url, person.slug, person.email, PASSWORD) as client:
            with pytest.raises(MfaRequiredError) as raised:
                await client.authenticate()
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert raised.value.reason == "MFA_REQUIRED"
            assert raised.value.enrolment_required is False
            assert len(raised.value.challenge_token) >= 16
            assert raised.value.challenge_token not in str(raised.value)
            assert client._tokens.token is None  # no empty token kept
            assert client.tenant_id is None
            # A call raises the same error after one login (one challenge), not UNAUTHENTICATED
            # after three.
            before = await challenges()
            with pytest.raises(MfaRequiredError):
                await auth_service_pb2_grpc.AuthServiceStub(client.channel).GetMe(auth_service_pb2.GetMeRequest())
            assert await challenges() == before + 1
            # The challenge it carries is the one to complete.
            done = await world.complete(
                auth_service_pb2.MfaChallenge(challenge_token=raised.value.challenge_token), person.code()
            )
            assert done.tokens.access_token

        def sync_login() -> None:
            with Client.from_password(url, person.slug, person.email, PASSWORD) as client:
                client.authenticate()

        with pytest.raises(MfaRequiredError):
            await asyncio.to_thread(sync_login)
        await world.cleanup()


def test_a_tokens_repr_shows_no_secret() -> None:
    token = Token("header.payload.signature-secret", 123.0, "refresh-secret")
    assert "secret" not in repr(token)
    assert "123.0" in repr(token)
