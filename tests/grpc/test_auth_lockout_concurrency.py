"""Lockout under parallel guesses: an attempt is counted before it is evaluated, so however many
wrong passwords, API keys or factor codes arrive at once, at most the threshold of them are looked
at per lock window; the rest are refused LOGIN_LOCKED. A success still undoes its own count and
resets the account's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2

from services.auth.models import AuditEventRow, LoginThrottleRow
from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.accounts import Accounts, accounts_on, fresh_step, lockout_env
from tests.support.errors import expect_error, reason_of
from tests.support.platform import Platform, bearer, platform

PASSWORD = "tr0ub4dor-and-3-more"
WRONG = "not-the-password-at-all"
MAX_FAILURES = 3
ADDRESS_MAX_FAILURES = 5
PARALLEL = 20
LOCKED = grpc.StatusCode.RESOURCE_EXHAUSTED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
async def mesh(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    env = lockout_env(MAX_FAILURES, address_max_failures=ADDRESS_MAX_FAILURES)
    async with platform(db_backend_url, tmp_path, env=env) as running:
        yield running


async def _member(mesh: Platform) -> str:
    email = f"u-{uuid.uuid4().hex[:10]}@example.test"
    await mesh.admin_stub("UserService").CreateUser(
        admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=PASSWORD, roles=["member"]),
        metadata=(*bearer(await mesh.admin_token()), ("x-tenant-id", PLATFORM_TENANT_ID)),
    )
    return email


async def _outcomes(calls: list[Awaitable[Any]]) -> list[str]:
    """The ErrorInfo reason of each call, all sent at once ("OK" for a success)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    reasons = []
    for result in results:
        if isinstance(result, grpc.aio.AioRpcError):
            reasons.append(reason_of(result))
        elif isinstance(result, BaseException):
            raise result
        else:
            reasons.append("OK")
    return reasons


async def _audited(db: Any, action: str) -> list[AuditEventRow]:
    async with db.core_session() as session:
        return list((await session.execute(select(AuditEventRow).where(AuditEventRow.action == action))).scalars())


async def test_parallel_wrong_passwords_get_at_most_the_threshold_of_guesses(mesh: Platform) -> None:
    email = await _member(mesh)

    def login(password: str) -> Any:
        return mesh.auth.Login(auth_pb.LoginRequest(tenant="platform", email=email, password=password))

    reasons = await _outcomes([login(WRONG) for _ in range(PARALLEL)])
    assert reasons.count("INVALID_CREDENTIALS") == MAX_FAILURES, reasons
    assert reasons.count("LOGIN_LOCKED") == PARALLEL - MAX_FAILURES, reasons
    failed = [e for e in await _audited(mesh.runtime.db, "auth.login.failed") if e.target == f"email:{email}"]
    assert len(failed) == MAX_FAILURES
    locks = await _audited(mesh.runtime.db, "auth.login.locked")
    assert [e.target for e in locks if e.target.startswith("account:")] == [f"account:{PLATFORM_TENANT_ID}:{email}"]
    await expect_error(login(PASSWORD), LOCKED, "LOGIN_LOCKED")


async def test_a_success_still_resets_the_account_count_and_counts_nothing(mesh: Platform) -> None:
    email = await _member(mesh)

    def login(password: str) -> Any:
        return mesh.auth.Login(auth_pb.LoginRequest(tenant="platform", email=email, password=password))

    for _ in range(MAX_FAILURES - 1):
        await expect_error(login(WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
    await login(PASSWORD)
    # The success reset the account's count: as many wrong guesses again before the lock.
    for _ in range(MAX_FAILURES - 1):
        await expect_error(login(WRONG), UNAUTHENTICATED, "INVALID_CREDENTIALS")
    await login(PASSWORD)
    async with mesh.runtime.db.core_session() as session:
        counted = {row.throttle_key: row for row in (await session.execute(select(LoginThrottleRow))).scalars()}
    # The account's count is gone; the address holds this test's wrong passwords only (the
    # successes, this test's and the administrator's, undid their own count), and nothing is locked.
    assert f"account:{PLATFORM_TENANT_ID}:{email}" not in counted
    assert [row.failures for key, row in counted.items() if key.startswith("address:")] == [2 * (MAX_FAILURES - 1)]
    assert all(row.locked_until is None for row in counted.values())


async def test_parallel_wrong_api_keys_get_at_most_the_address_threshold(mesh: Platform) -> None:
    guesses = [f"tmk_{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex}" for _ in range(PARALLEL)]
    calls = [mesh.auth.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=guess)) for guess in guesses]
    reasons = await _outcomes(calls)
    assert reasons.count("API_KEY_INVALID") == ADDRESS_MAX_FAILURES, reasons
    assert reasons.count("LOGIN_LOCKED") == PARALLEL - ADDRESS_MAX_FAILURES, reasons
    assert len(await _audited(mesh.runtime.db, "auth.api_key.failed")) == ADDRESS_MAX_FAILURES


@pytest.fixture
async def accounts(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Accounts]:
    async with accounts_on(db_backend_url, tmp_path, lockout_env(MAX_FAILURES, address_max_failures=1000)) as world:
        yield world


@pytest.mark.parametrize("rpc", ["DisableTotp", "RegenerateRecoveryCodes"])
async def test_parallel_wrong_factor_codes_get_at_most_the_threshold(accounts: Accounts, rpc: str) -> None:
    await fresh_step()
    person = await accounts.person(await accounts.tenant())
    await accounts.enrol(person)
    wrong = str((int(person.code()) + 500_000) % 1_000_000).zfill(6)
    request: Callable[[], Any] = {
        "DisableTotp": lambda: auth_pb.DisableTotpRequest(code=wrong),
        "RegenerateRecoveryCodes": lambda: auth_pb.RegenerateRecoveryCodesRequest(code=wrong),
    }[rpc]
    call = getattr(accounts.mfa, rpc)
    reasons = await _outcomes([call(request(), metadata=bearer(person.token)) for _ in range(PARALLEL)])
    assert reasons.count("MFA_CODE_INVALID") == MAX_FAILURES, reasons
    assert reasons.count("LOGIN_LOCKED") == PARALLEL - MAX_FAILURES, reasons
    failed = await _audited(accounts.mesh.runtime.db, "auth.mfa.code_failed")
    assert [e.target for e in failed] == [f"user:{person.user_id}"] * MAX_FAILURES
