"""TOTP second factor end to end on the in-process platform: enrolment, the login challenge,
replay, recovery codes, lockout, tenant and role policy, disable by the user and reset by the
home tenant. Codes are computed with pyotp, an implementation independent of the server's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pyotp
import pytest
from sqlalchemy import update
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb

from services.auth.models import AuditEventRow, MfaChallengeRow, RecoveryCodeRow, SessionRow, TotpRow
from services.runtime.clock import utcnow
from tests.support.accounts import Account, Accounts, accounts_on, fresh_step
from tests.support.errors import expect_error, violation_fields
from tests.support.platform import bearer

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


@pytest.fixture
async def accounts(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Accounts]:
    # Three wrong codes lock an account; addresses are not counted low enough to get in the way.
    env = {"TENANTMESH_LOGIN_MAX_FAILURES": "3", "TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES": "1000"}
    async with accounts_on(db_backend_url, tmp_path, env) as world:
        yield world


async def rows(world: Accounts, model: type, *criteria: Any) -> list[Any]:
    from sqlalchemy import select  # noqa: PLC0415

    async with world.mesh.runtime.db.core_session() as session:
        return list((await session.execute(select(model).where(*criteria))).scalars())


async def test_enrolment_gives_a_secret_then_recovery_codes_once_confirmed(accounts: Accounts) -> None:
    await fresh_step()
    person = await accounts.person(await accounts.tenant())
    status = await accounts.mfa.GetMfaStatus(auth_pb.GetMfaStatusRequest(), metadata=bearer(person.token))
    assert (status.totp_enabled, status.recovery_codes_left) == (False, 0)

    enrolment = await accounts.mfa.EnrolTotp(auth_pb.EnrolTotpRequest(), metadata=bearer(person.token))
    parsed = pyotp.parse_uri(enrolment.totp.otpauth_uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == enrolment.totp.secret
    assert (parsed.digits, parsed.interval, parsed.issuer) == (6, 30, "Tenantmesh")
    person.secret = enrolment.totp.secret
    # Not in force before a code confirms it: login still gives tokens.
    assert (await accounts.login(person)).HasField("tokens")
    wrong = str((int(person.code()) + 1) % 1_000_000).zfill(6)
    await expect_error(
        accounts.mfa.ConfirmTotp(auth_pb.ConfirmTotpRequest(code=wrong), metadata=bearer(person.token)),
        UNAUTHENTICATED,
        "MFA_CODE_INVALID",
    )
    confirmed = await accounts.mfa.ConfirmTotp(
        auth_pb.ConfirmTotpRequest(code=person.code()), metadata=bearer(person.token)
    )
    assert len(confirmed.recovery_codes) == 10
    assert len(set(confirmed.recovery_codes)) == 10
    status = await accounts.mfa.GetMfaStatus(auth_pb.GetMfaStatusRequest(), metadata=bearer(person.token))
    assert (status.totp_enabled, status.recovery_codes_left) == (True, 10)
    # The secret and the codes are not stored as given.
    (row,) = await rows(accounts, TotpRow, TotpRow.user_id == person.user_id)
    assert person.secret.encode() not in row.secret_encrypted
    stored = {r.code_hash for r in await rows(accounts, RecoveryCodeRow, RecoveryCodeRow.user_id == person.user_id)}
    assert not stored & set(confirmed.recovery_codes)
    await expect_error(
        accounts.mfa.EnrolTotp(auth_pb.EnrolTotpRequest(), metadata=bearer(person.token)),
        FAILED_PRECONDITION,
        "MFA_ALREADY_ENROLLED",
    )


async def test_login_with_a_factor_is_a_challenge_completed_by_a_code_once(accounts: Accounts) -> None:
    await fresh_step()
    person = await accounts.person(await accounts.tenant())
    await accounts.enrol(person)

    first = await accounts.login(person)
    assert not first.HasField("tokens")
    assert first.mfa_challenge.challenge_token.startswith("tmc_")
    assert not first.mfa_challenge.enrolment_required
    completed = await accounts.complete(first.mfa_challenge, person.code())
    me = await accounts.mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(completed.tokens.access_token))
    assert me.user.user_id == person.user_id
    assert list(completed.recovery_codes) == []

    # The challenge is single use, and the same code is refused within its window (replay).
    await expect_error(accounts.complete(first.mfa_challenge, person.code(1)), UNAUTHENTICATED, "MFA_CHALLENGE_INVALID")
    second = await accounts.login(person)
    await expect_error(accounts.complete(second.mfa_challenge, person.code()), UNAUTHENTICATED, "MFA_CODE_INVALID")
    # The next step's code (drift allowance) works, once.
    await accounts.complete(second.mfa_challenge, person.code(1))
    actions = [e.action for e in await rows(accounts, AuditEventRow, AuditEventRow.target == f"user:{person.user_id}")]
    assert actions.count("auth.login.mfa_challenged") == 2


async def test_forged_expired_and_malformed_challenges_are_refused(accounts: Accounts) -> None:
    person = await accounts.person(await accounts.tenant())
    await accounts.enrol(person)
    forged = auth_pb.MfaChallenge(challenge_token="tmc_" + "x" * 43)
    await expect_error(accounts.complete(forged, "123456"), UNAUTHENTICATED, "MFA_CHALLENGE_INVALID")
    challenge = (await accounts.login(person)).mfa_challenge
    async with accounts.mesh.runtime.db.core_session() as session:
        await session.execute(update(MfaChallengeRow).values(expire_time=utcnow() - timedelta(seconds=1)))
        await session.commit()
    await expect_error(accounts.complete(challenge, person.code()), UNAUTHENTICATED, "MFA_CHALLENGE_INVALID")
    error = await expect_error(
        accounts.mesh.auth.CompleteMfaChallenge(auth_pb.CompleteMfaChallengeRequest(challenge_token="short", code="1")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"challenge_token", "code"}


async def test_recovery_codes_work_once_each(accounts: Accounts) -> None:
    person = await accounts.person(await accounts.tenant())
    await accounts.enrol(person)
    code = person.recovery_codes[0]
    await accounts.complete((await accounts.login(person)).mfa_challenge, code.upper())
    await expect_error(
        accounts.complete((await accounts.login(person)).mfa_challenge, code), UNAUTHENTICATED, "MFA_CODE_INVALID"
    )
    status = await accounts.mfa.GetMfaStatus(auth_pb.GetMfaStatusRequest(), metadata=bearer(person.token))
    assert status.recovery_codes_left == 9


async def test_wrong_codes_lock_the_login_like_wrong_passwords(accounts: Accounts) -> None:
    person = await accounts.person(await accounts.tenant())
    await accounts.enrol(person)
    challenge = (await accounts.login(person)).mfa_challenge
    wrong = str((int(person.code()) + 500_000) % 1_000_000).zfill(6)
    for _ in range(2):
        await expect_error(accounts.complete(challenge, wrong), UNAUTHENTICATED, "MFA_CODE_INVALID")
    # The third failure (TENANTMESH_LOGIN_MAX_FAILURES=3) locks the account's logins.
    await expect_error(accounts.complete(challenge, wrong), UNAUTHENTICATED, "MFA_CODE_INVALID")
    await expect_error(accounts.complete(challenge, person.code()), grpc.StatusCode.RESOURCE_EXHAUSTED, "LOGIN_LOCKED")
    await expect_error(accounts.login(person), grpc.StatusCode.RESOURCE_EXHAUSTED, "LOGIN_LOCKED")


async def test_tenant_policy_makes_role_holders_enrol_during_login(accounts: Accounts) -> None:
    await fresh_step()
    tenant = await accounts.tenant()
    admin = await accounts.person(tenant, roles=["tenant-admin"])
    member = await accounts.person(tenant)
    policies = accounts.mesh.admin_stub("MfaPolicyService")
    error = await expect_error(
        policies.UpdateMfaPolicy(
            admin_pb.UpdateMfaPolicyRequest(policy=admin_pb.MfaPolicy(required_roles=["ghost"])),
            metadata=(*bearer(admin.token), ("x-tenant-id", tenant.tenant_id)),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ROLE_NOT_FOUND",
    )
    assert violation_fields(error) == {"policy.required_roles"}
    policy = (
        await policies.UpdateMfaPolicy(
            admin_pb.UpdateMfaPolicyRequest(policy=admin_pb.MfaPolicy(required_roles=["tenant-admin"])),
            metadata=(*bearer(admin.token), ("x-tenant-id", tenant.tenant_id)),
        )
    ).policy
    assert (list(policy.required_roles), policy.etag) == (["tenant-admin"], "1")

    assert (await accounts.login(member)).HasField("tokens")
    challenge = (await accounts.login(admin)).mfa_challenge
    assert challenge.enrolment_required
    # Without enrolling first there is nothing a code could match.
    await expect_error(accounts.complete(challenge, "123456"), UNAUTHENTICATED, "MFA_CODE_INVALID")
    enrolment = await accounts.mesh.auth.BeginChallengeEnrolment(
        auth_pb.BeginChallengeEnrolmentRequest(challenge_token=challenge.challenge_token)
    )
    admin.secret = enrolment.totp.secret
    completed = await accounts.complete(challenge, admin.code())
    assert len(completed.recovery_codes) == 10
    assert completed.tokens.access_token
    # From now on the admin has a factor: the next login is an ordinary challenge.
    again = (await accounts.login(admin)).mfa_challenge
    assert not again.enrolment_required
    await expect_error(
        accounts.mesh.auth.BeginChallengeEnrolment(
            auth_pb.BeginChallengeEnrolmentRequest(challenge_token=again.challenge_token)
        ),
        FAILED_PRECONDITION,
        "MFA_ALREADY_ENROLLED",
    )
    # Everyone: the member too.
    await policies.UpdateMfaPolicy(
        admin_pb.UpdateMfaPolicyRequest(policy=admin_pb.MfaPolicy(require_all=True, etag="1")),
        metadata=(*bearer(admin.token), ("x-tenant-id", tenant.tenant_id)),
    )
    assert (await accounts.login(member)).mfa_challenge.enrolment_required
    await expect_error(
        policies.UpdateMfaPolicy(
            admin_pb.UpdateMfaPolicyRequest(policy=admin_pb.MfaPolicy(etag="1")),
            metadata=(*bearer(admin.token), ("x-tenant-id", tenant.tenant_id)),
        ),
        grpc.StatusCode.ABORTED,
        "ETAG_MISMATCH",
    )


async def test_switching_into_a_tenant_that_requires_a_factor_needs_one(accounts: Accounts) -> None:
    home, strict = await accounts.tenant("home"), await accounts.tenant("strict")
    person = await accounts.person(home)
    await accounts.mesh.admin_stub("MembershipService").AddMembership(
        admin_pb.AddMembershipRequest(user_id=person.user_id), metadata=accounts.as_admin(strict.tenant_id)
    )
    await accounts.mesh.admin_stub("MfaPolicyService").UpdateMfaPolicy(
        admin_pb.UpdateMfaPolicyRequest(policy=admin_pb.MfaPolicy(require_all=True)),
        metadata=accounts.as_admin(strict.tenant_id),
    )
    await expect_error(
        accounts.mesh.auth.SwitchTenant(auth_pb.SwitchTenantRequest(tenant=strict.slug), metadata=bearer(person.token)),
        FAILED_PRECONDITION,
        "MFA_ENROLMENT_REQUIRED",
    )


async def test_a_stricter_policy_ends_sessions_without_a_factor_at_their_next_refresh(accounts: Accounts) -> None:
    await fresh_step()
    tenant = await accounts.tenant()
    admin = await accounts.person(tenant, roles=["tenant-admin"])
    member, enrolled = await accounts.person(tenant), await accounts.person(tenant)
    await accounts.enrol(enrolled)
    refresh_tokens = {
        "admin": (await accounts.login(admin)).tokens.refresh_token,
        "member": (await accounts.login(member)).tokens.refresh_token,
        "enrolled": (
            await accounts.complete((await accounts.login(enrolled)).mfa_challenge, enrolled.code())
        ).tokens.refresh_token,
    }

    async def refresh(who: str) -> None:
        response = await accounts.mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=refresh_tokens[who]))
        refresh_tokens[who] = response.tokens.refresh_token

    await accounts.mesh.admin_stub("MfaPolicyService").UpdateMfaPolicy(
        admin_pb.UpdateMfaPolicyRequest(policy=admin_pb.MfaPolicy(required_roles=["tenant-admin"])),
        metadata=accounts.as_admin(tenant.tenant_id),
    )
    await expect_error(refresh("admin"), UNAUTHENTICATED, "MFA_ENROLMENT_REQUIRED")
    await refresh("member")  # the policy does not name the member's role
    await accounts.mesh.admin_stub("MfaPolicyService").UpdateMfaPolicy(
        admin_pb.UpdateMfaPolicyRequest(policy=admin_pb.MfaPolicy(require_all=True, etag="1")),
        metadata=accounts.as_admin(tenant.tenant_id),
    )
    await expect_error(refresh("member"), UNAUTHENTICATED, "MFA_ENROLMENT_REQUIRED")
    await refresh("enrolled")
    # The refused session is over, not merely paused: it stays refused, audited as such.
    await expect_error(refresh("admin"), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")
    ended = await rows(accounts, SessionRow, SessionRow.subject == f"user:{admin.user_id}")
    assert "MFA_REQUIRED" in {row.revoke_reason for row in ended}


async def test_the_user_disables_with_a_fresh_code_only(accounts: Accounts) -> None:
    await fresh_step()
    person = await accounts.person(await accounts.tenant())
    await accounts.enrol(person)
    await expect_error(
        accounts.mfa.DisableTotp(auth_pb.DisableTotpRequest(code="000000"), metadata=bearer(person.token)),
        UNAUTHENTICATED,
        "MFA_CODE_INVALID",
    )
    # The code that confirmed the enrolment is spent.
    await expect_error(
        accounts.mfa.DisableTotp(auth_pb.DisableTotpRequest(code=person.code(-1)), metadata=bearer(person.token)),
        UNAUTHENTICATED,
        "MFA_CODE_INVALID",
    )
    await accounts.mfa.DisableTotp(auth_pb.DisableTotpRequest(code=person.code()), metadata=bearer(person.token))
    assert (await accounts.login(person)).HasField("tokens")
    await expect_error(
        accounts.mfa.DisableTotp(auth_pb.DisableTotpRequest(code=person.code(1)), metadata=bearer(person.token)),
        FAILED_PRECONDITION,
        "MFA_NOT_ENROLLED",
    )
    assert await rows(accounts, RecoveryCodeRow, RecoveryCodeRow.user_id == person.user_id) == []


async def test_the_home_tenant_resets_a_factor_audited_and_no_other_tenant_can(accounts: Accounts) -> None:
    await fresh_step()
    home, other = await accounts.tenant("home"), await accounts.tenant("other")
    home_admin = await accounts.person(home, roles=["tenant-admin"])
    other_admin = await accounts.person(other, roles=["tenant-admin"])
    person: Account = await accounts.person(home)
    await accounts.mesh.admin_stub("MembershipService").AddMembership(
        admin_pb.AddMembershipRequest(user_id=person.user_id), metadata=accounts.as_admin(other.tenant_id)
    )
    await accounts.enrol(person)
    # A session opened with the factor, whose refresh token must not outlive the reset.
    with_factor = (await accounts.complete((await accounts.login(person)).mfa_challenge, person.code())).tokens
    users = accounts.mesh.admin_stub("UserService")
    await expect_error(
        users.ResetUserMfa(
            admin_pb.ResetUserMfaRequest(user_id=person.user_id),
            metadata=(*bearer(other_admin.token), ("x-tenant-id", other.tenant_id)),
        ),
        FAILED_PRECONDITION,
        "USER_MANAGED_ELSEWHERE",
    )
    assert len(await rows(accounts, TotpRow, TotpRow.user_id == person.user_id)) == 1
    await users.ResetUserMfa(
        admin_pb.ResetUserMfaRequest(user_id=person.user_id),
        metadata=(*bearer(home_admin.token), ("x-tenant-id", home.tenant_id)),
    )
    assert await rows(accounts, TotpRow, TotpRow.user_id == person.user_id) == []
    (event,) = await rows(accounts, AuditEventRow, AuditEventRow.action == "auth.mfa.reset")
    assert (event.tenant_id, event.actor) == (home.tenant_id, f"user:{home_admin.user_id}")
    # The person's sessions went with it, refresh tokens included; a password login works again
    # without a second step.
    await expect_error(
        accounts.mfa.GetMfaStatus(auth_pb.GetMfaStatusRequest(), metadata=bearer(person.token)),
        UNAUTHENTICATED,
        "TOKEN_REVOKED",
    )
    await expect_error(
        accounts.mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=with_factor.refresh_token)),
        UNAUTHENTICATED,
        "REFRESH_TOKEN_INVALID",
    )
    assert (await accounts.login(person)).HasField("tokens")


async def test_wrong_codes_to_disable_or_replace_the_factor_lock_it_like_logins(accounts: Accounts) -> None:
    # A stolen access token (or refresh token) used to buy unlimited guesses at the code that
    # disables the factor or hands out new recovery codes: a million codes, three valid at a time.
    await fresh_step()
    person = await accounts.person(await accounts.tenant())
    await accounts.enrol(person)
    wrong = str((int(person.code()) + 500_000) % 1_000_000).zfill(6)
    disable, regenerate = accounts.mfa.DisableTotp, accounts.mfa.RegenerateRecoveryCodes
    for _ in range(2):
        await expect_error(
            disable(auth_pb.DisableTotpRequest(code=wrong), metadata=bearer(person.token)),
            UNAUTHENTICATED,
            "MFA_CODE_INVALID",
        )
    # The third failure (TENANTMESH_LOGIN_MAX_FAILURES=3) locks the account, whichever call made it.
    await expect_error(
        regenerate(auth_pb.RegenerateRecoveryCodesRequest(code=wrong), metadata=bearer(person.token)),
        UNAUTHENTICATED,
        "MFA_CODE_INVALID",
    )
    locked = grpc.StatusCode.RESOURCE_EXHAUSTED
    await expect_error(
        disable(auth_pb.DisableTotpRequest(code=person.code()), metadata=bearer(person.token)), locked, "LOGIN_LOCKED"
    )
    await expect_error(
        regenerate(auth_pb.RegenerateRecoveryCodesRequest(code=person.code()), metadata=bearer(person.token)),
        locked,
        "LOGIN_LOCKED",
    )
    await expect_error(accounts.login(person), locked, "LOGIN_LOCKED")
    # Nothing changed, and each guess is on record.
    status = await accounts.mfa.GetMfaStatus(auth_pb.GetMfaStatusRequest(), metadata=bearer(person.token))
    assert (status.totp_enabled, status.recovery_codes_left) == (True, 10)
    failed = await rows(accounts, AuditEventRow, AuditEventRow.action == "auth.mfa.code_failed")
    assert [e.target for e in failed if e.target == f"user:{person.user_id}"] == [f"user:{person.user_id}"] * 3
