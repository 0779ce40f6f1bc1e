"""Brute-force protection on the in-process platform: lockout after repeated
failures, the same answer (and about the same time) whether or not the account
exists, unlock after the lock expires, per-address limits, audit entries."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import auth_service_pb2_grpc, user_pb2

from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.errors import expect_error, retry_info, status_of
from tests.support.platform import Platform, bearer, platform

PASSWORD = "tr0ub4dor-and-3-more"
WRONG = "not-the-password-at-all"
MAX_FAILURES = 3
LOCK_SECONDS = 2.0
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
LOCKED = grpc.StatusCode.RESOURCE_EXHAUSTED

Login = Callable[[str, str], Awaitable[Any]]


async def create_platform_member(mesh: Platform) -> str:
    """A user who is a plain member of the platform tenant; returns the email."""
    email = f"u-{uuid.uuid4().hex[:10]}@example.test"
    await mesh.admin_stub("UserService").CreateUser(
        admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=PASSWORD, roles=["member"]),
        metadata=(*bearer(await mesh.admin_token()), ("x-tenant-id", PLATFORM_TENANT_ID)),
    )
    return email


def login_call(mesh: Platform) -> Login:
    async def login(email: str, password: str) -> Any:
        return await mesh.auth.Login(auth_pb.LoginRequest(tenant="platform", email=email, password=password))

    return login


def shape(error: grpc.aio.AioRpcError) -> tuple[Any, ...]:
    """What a caller can observe of a refusal, apart from the message and the exact delay."""
    status = status_of(error)
    return (error.code(), [d.type_url for d in status.details], sorted(dict(error.trailing_metadata() or ()).keys()))


@pytest.fixture
async def mesh(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    env = {
        "TENANTMESH_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
        "TENANTMESH_LOGIN_LOCK_SECONDS": str(LOCK_SECONDS),
    }
    async with platform(db_backend_url, tmp_path, env=env) as running:
        yield running


async def audited(mesh: Platform, action: str) -> list[user_pb2.AuditEvent]:
    response = await mesh.admin_stub("AuditService").ListPlatformAuditEvents(
        admin_pb.ListPlatformAuditEventsRequest(action_prefix=action, page_size=500),
        metadata=bearer(await mesh.admin_token()),
    )
    return [e for e in response.audit_events if e.action == action]


async def test_lockout_after_repeated_failures_then_unlock(mesh: Platform) -> None:
    email = await create_platform_member(mesh)
    login = login_call(mesh)

    for _ in range(MAX_FAILURES):
        await expect_error(login(email, WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
    # Locked: even the right password is refused, with a hint when to come back.
    error = await expect_error(login(email, PASSWORD), LOCKED, "LOGIN_LOCKED")
    delay = retry_info(error)
    assert delay is not None
    retry_after = delay.retry_delay.ToTimedelta().total_seconds()
    # At least the configured lock; stored times have whole-second granularity.
    assert LOCK_SECONDS - 1 < retry_after <= LOCK_SECONDS + 1
    locked_at = time.monotonic()

    # Other accounts are not affected by someone else's lock.
    other = await create_platform_member(mesh)
    await login(other, PASSWORD)

    await asyncio.sleep(max(0.0, retry_after + 0.1 - (time.monotonic() - locked_at)))
    await login(email, PASSWORD)
    # The success reset the count: the next failures start again from zero.
    for _ in range(MAX_FAILURES - 1):
        await expect_error(login(email, WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
    await login(email, PASSWORD)

    failures = [e for e in await audited(mesh, "auth.login.failed") if e.target == f"email:{email}"]
    assert len(failures) == MAX_FAILURES + MAX_FAILURES - 1
    assert {e.details["why"] for e in failures} == {"wrong-password"}
    assert all(e.client_address and e.request_id for e in failures)
    locks = [e for e in await audited(mesh, "auth.login.locked") if e.target == f"account:{PLATFORM_TENANT_ID}:{email}"]
    assert len(locks) == 1
    successes = [e for e in await audited(mesh, "auth.login.succeeded") if e.actor.startswith("user:")]
    assert len(successes) >= 3


async def test_unknown_emails_lock_out_the_same_way(db_backend_url: str, tmp_path: Path) -> None:
    # A long lock: the comparison must not depend on how fast this machine is today.
    env = {"TENANTMESH_LOGIN_MAX_FAILURES": str(MAX_FAILURES), "TENANTMESH_LOGIN_LOCK_SECONDS": "30"}
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        await _unknown_emails_lock_out_the_same_way(mesh)


async def _unknown_emails_lock_out_the_same_way(mesh: Platform) -> None:
    email = await create_platform_member(mesh)
    ghost = f"nobody-{uuid.uuid4().hex[:10]}@example.test"
    login = login_call(mesh)

    answers: dict[str, list[tuple[Any, ...]]] = {email: [], ghost: []}
    for who in (email, ghost):
        for _ in range(MAX_FAILURES):
            error = await expect_error(login(who, WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
            answers[who].append(shape(error))
        error = await expect_error(login(who, PASSWORD), LOCKED, "LOGIN_LOCKED")
        assert retry_info(error) is not None
        answers[who].append(shape(error))
    assert answers[email] == answers[ghost]

    ghost_failures = [e for e in await audited(mesh, "auth.login.failed") if e.target == f"email:{ghost}"]
    assert len(ghost_failures) == MAX_FAILURES
    locks = [e for e in await audited(mesh, "auth.login.locked") if e.target == f"account:{PLATFORM_TENANT_ID}:{ghost}"]
    assert len(locks) == 1


async def test_failures_from_one_address_lock_it_across_accounts_and_connections(
    db_backend_url: str, tmp_path: Path
) -> None:
    env = {"TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES": "4", "TENANTMESH_LOGIN_LOCK_SECONDS": "30"}
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        email = await create_platform_member(mesh)

        async def login_on_a_new_connection(who: str, password: str) -> Any:
            # A new connection has a new source port: the limit must hold per address, not per port.
            # (A local subchannel pool: channels to one target would otherwise share a connection.)
            options = [("grpc.use_local_subchannel_pool", 1)]
            async with grpc.aio.insecure_channel(mesh.runtime.addresses["auth"], options=options) as channel:
                stub: Any = auth_service_pb2_grpc.AuthServiceStub(channel)
                return await stub.Login(auth_pb.LoginRequest(tenant="platform", email=who, password=password))

        for _ in range(4):
            stranger = f"guess-{uuid.uuid4().hex[:10]}@example.test"
            await expect_error(login_on_a_new_connection(stranger, WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
        await expect_error(login_on_a_new_connection(email, PASSWORD), LOCKED, "LOGIN_LOCKED")


async def test_response_time_does_not_reveal_whether_an_account_exists(db_backend_url: str, tmp_path: Path) -> None:
    # Limits out of the way: this compares the full failure path, not the lockout.
    env = {"TENANTMESH_LOGIN_MAX_FAILURES": "1000", "TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES": "1000"}
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        email = await create_platform_member(mesh)
        ghost = f"nobody-{uuid.uuid4().hex[:10]}@example.test"
        login = login_call(mesh)
        timings: dict[str, list[float]] = {email: [], ghost: []}
        await expect_error(login(ghost, WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")  # warm-up
        for _ in range(15):
            for who in (email, ghost):  # interleaved, so load changes hit both alike
                started = time.perf_counter()
                await expect_error(login(who, WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
                timings[who].append(time.perf_counter() - started)

    existing, unknown = statistics.median(timings[email]), statistics.median(timings[ghost])
    print(f"\nwrong password: median {existing * 1000:.1f} ms (existing user), {unknown * 1000:.1f} ms (unknown email)")
    assert 0.5 < existing / unknown < 2.0
