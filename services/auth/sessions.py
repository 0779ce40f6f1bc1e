"""Sessions: login (with its second-factor step), refresh with rotation and
reuse detection, logout, tenant switch, API key exchange, password change.

A session is one login in one tenant. Each refresh consumes the session's
current refresh token and issues the next; presenting a consumed token means
it was stolen or replayed, so the whole session is revoked. Access tokens
carry the permissions the member holds when they are issued; changes to
memberships and roles revoke older tokens (see revocation.py).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit
from services.auth.deps import AuthDeps
from services.auth.identities import (
    USER_SUBJECT_PREFIX,
    find_member_by_email,
    normalize_email,
    record_by_user,
    roles_of,
    user_subject,
)
from services.auth.mfa import Enrolment, SecondFactor, already_enrolled, code_invalid
from services.auth.mfa_policy import policy_from_columns, policy_of
from services.auth.models import (
    MembershipRow,
    MfaChallengeRow,
    MfaPolicyRow,
    RefreshTokenRow,
    ServiceAccountRow,
    SessionRow,
    TotpRow,
    UserRow,
)
from services.auth.passwords import burn_verification, check_policy, hash_password, verify_password
from services.auth.reasons import AuthReason
from services.auth.settings import AuthSettings
from services.auth.tenant_gate import require_usable_tenant
from services.auth.throttle import (
    Attempt,
    LoginThrottle,
    ThrottleKey,
    account_key,
    address_key,
    normalize_reference,
)
from services.auth.tokens import IssuedToken, TokenIssuer, digest, new_refresh_token
from services.runtime.clock import utcnow
from services.runtime.context import Principal, TenantContext, TenantState, client_address_var
from services.runtime.errors import FailedPrecondition, NotFound, PermissionDenied, Unauthenticated
from services.runtime.ids import uuid7
from services.runtime.tenant_directory import CachedTenantDirectory

T = TypeVar("T")

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Tokens:
    access: IssuedToken
    refresh_token: str  # "" when none is issued (service accounts)


@dataclass(frozen=True)
class Challenge:
    """A password login that needs its second factor (see complete_challenge)."""

    token: str  # in this result only; a digest is stored
    expire_time: datetime
    enrolment_required: bool


@dataclass(frozen=True)
class Completed:
    tokens: Tokens
    # When the challenge enrolled the user's first factor: their recovery codes, shown once.
    recovery_codes: list[str]


MFA_CHALLENGE_TTL = timedelta(minutes=5)
MFA_CHALLENGE_PREFIX = "tmc_"


def _invalid_credentials() -> Unauthenticated:
    # One answer for every way a login can be wrong: unknown tenant, unknown
    # email, wrong password, disabled user, not a member.
    return Unauthenticated("the credentials are not valid", reason=AuthReason.INVALID_CREDENTIALS)


def _challenge_invalid() -> Unauthenticated:
    return Unauthenticated("the challenge is not valid; log in again", reason=AuthReason.MFA_CHALLENGE_INVALID)


@dataclass(frozen=True)
class _Family:
    """The session a refresh token belongs to."""

    session_id: str
    subject: str
    tenant_id: str


_tokens, _sessions = cast(Table, RefreshTokenRow.__table__), cast(Table, SessionRow.__table__)
_members, _users = cast(Table, MembershipRow.__table__), cast(Table, UserRow.__table__)
_policies, _factors = cast(Table, MfaPolicyRow.__table__), cast(Table, TotpRow.__table__)
_successors = _tokens.alias("successor")

# A refresh token with its session; whether it was consumed already (a successor
# names it as parent, or, for tokens older than parent_hash, use_time is set);
# and, when the session is a user's, that user's membership in the session's
# tenant (roles_json NULL when there is none) and whether the user is disabled.
# The membership is found through its primary key: the user id is the session
# subject without its "user:" prefix. Also the tenant's second-factor policy and
# when the user confirmed a factor, so that a policy made stricter after the login
# ends sessions without a factor at their next refresh, not at their expiry.
_REFRESH_LOOKUP = (
    select(
        _sessions.c.session_id,
        _sessions.c.subject,
        _sessions.c.tenant_id,
        _sessions.c.expire_time,
        _sessions.c.revoke_time,
        _tokens.c.use_time,
        _successors.c.token_hash.label("successor_hash"),
        _members.c.roles_json,
        _users.c.disabled,
        _policies.c.require_all.label("mfa_require_all"),
        _policies.c.roles_json.label("mfa_roles_json"),
        _policies.c.revision.label("mfa_revision"),
        _factors.c.confirm_time.label("factor_confirm_time"),
    )
    .select_from(
        _tokens.join(_sessions, _sessions.c.session_id == _tokens.c.session_id)
        .outerjoin(_successors, _successors.c.parent_hash == _tokens.c.token_hash)
        .outerjoin(
            _members,
            and_(
                _sessions.c.subject.startswith(USER_SUBJECT_PREFIX, autoescape=True),
                _members.c.tenant_id == _sessions.c.tenant_id,
                _members.c.user_id == func.substr(_sessions.c.subject, len(USER_SUBJECT_PREFIX) + 1),
            ),
        )
        .outerjoin(_users, _users.c.user_id == _members.c.user_id)
        .outerjoin(_policies, _policies.c.tenant_id == _sessions.c.tenant_id)
        .outerjoin(_factors, _factors.c.user_id == _members.c.user_id)
    )
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)
# The successor of a token. Its parent_hash is unique, so of two refreshes with
# one token only the first can insert it: single use is kept by the database.
_REFRESH_ISSUE = insert(_tokens)


@dataclass(frozen=True)
class _Failure:
    """An audited failed credential check."""

    action: str
    actor: str
    target: str
    details: dict[str, str] = field(default_factory=dict)
    tenant_id: str = ""


def _factor_missing(found: Row[*tuple[Any, ...]], roles: list[str]) -> bool:
    """Whether the tenant's policy (as _REFRESH_LOOKUP read it) asks this member for a second
    factor the user has not confirmed."""
    policy = policy_from_columns(found.mfa_require_all, found.mfa_roles_json, found.mfa_revision)
    return policy.requires(roles) and found.factor_confirm_time is None


def _refresh_invalid() -> Unauthenticated:
    return Unauthenticated("the refresh token is not valid", reason=AuthReason.REFRESH_TOKEN_INVALID)


def _api_key_invalid() -> Unauthenticated:
    return Unauthenticated("the API key is not valid", reason=AuthReason.API_KEY_INVALID)


class SessionManager:
    def __init__(
        self,
        deps: AuthDeps,
        settings: AuthSettings,
        issuer: TokenIssuer,
        tenants: CachedTenantDirectory,
        throttle: LoginThrottle,
        second_factor: SecondFactor,
    ) -> None:
        self._deps = deps
        self._mfa = second_factor
        self._db = deps.db
        self._settings = settings
        self._issuer = issuer
        self._tenants = tenants
        self._throttle = throttle

    async def resolve_tenant(self, reference: str) -> TenantContext | None:
        reference = normalize_reference(reference)
        tenant = await (
            self._tenants.lookup(reference) if _UUID.match(reference) else self._tenants.lookup_slug(reference)
        )
        return tenant if tenant is not None and tenant.state == TenantState.ACTIVE else None

    def _throttle_keys(
        self, tenant_id: str | None, tenant_reference: str, email: str
    ) -> tuple[ThrottleKey, ThrottleKey]:
        """The account's and the client address's lockout counters (``tenant_id`` when the
        reference resolved: every spelling of the tenant shares one account counter)."""
        return (
            account_key(tenant_id, tenant_reference, email, self._settings.login_max_failures),
            address_key(client_address_var.get(), self._settings.address_max_failures),
        )

    async def login(self, tenant_reference: str, email: str, password: str) -> Tokens | Challenge:
        """Tokens, or a Challenge when the user has a second factor or the tenant's policy wants one.

        The person is looked up among the members of the named tenant only; every way of being
        wrong costs one argon2id verification and gets the same answer."""
        email = normalize_email(email)
        tenant = await self.resolve_tenant(tenant_reference)
        keys = self._throttle_keys(tenant.tenant_id if tenant is not None else None, tenant_reference, email)
        async with self._throttle.attempt(keys) as attempt:
            async with self._db.core_session() as session:
                found = await find_member_by_email(session, tenant.tenant_id, email) if tenant is not None else None
            if found is None or tenant is None:
                await burn_verification(password)
                return await self._login_failed(attempt, tenant_reference, email, "unknown-user")
            user = found[0]
            verification = await verify_password(user.password_hash, password)
            if not verification.ok:
                return await self._login_failed(attempt, tenant_reference, email, "wrong-password")
            if user.disabled:
                return await self._login_failed(attempt, tenant_reference, email, "not-allowed")
            return await self._password_accepted(
                attempt, tenant.tenant_id, tenant_reference, found, verification.upgraded_hash
            )

    async def _password_accepted(
        self,
        attempt: Attempt,
        tenant_id: str,
        tenant_reference: str,
        found: tuple[UserRow, MembershipRow],
        upgraded_hash: str | None,
    ) -> Tokens | Challenge:
        """Tokens, or the challenge of a second factor, for a login with the right password."""
        user, membership = found
        async with self._db.core_session() as session:
            if upgraded_hash is not None:
                await session.execute(
                    update(UserRow).where(UserRow.user_id == user.user_id).values(password_hash=upgraded_hash)
                )
            has_factor = await self._mfa.has_factor(session, user.user_id)
            required = (await policy_of(session, tenant_id)).requires(roles_of(membership))
            if has_factor or required:
                challenge = self._challenge(session, user, tenant_id, tenant_reference, not has_factor)
                record_by_user(session, "auth.login.mfa_challenged", tenant_id, user.user_id)
                await session.commit()
                # The account's count is reset when the second factor passes, not by the password alone.
                return challenge
            attempt.succeeded(attempt.keys[0])
            tokens = await self._open_session(session, user_subject(user.user_id), tenant_id, membership)
            self._audit_login(session, tenant_id, user.user_id, tokens)
            await session.commit()
        return tokens

    def _challenge(
        self, session: AsyncSession, user: UserRow, tenant_id: str, tenant_reference: str, enrolment_required: bool
    ) -> Challenge:
        token = MFA_CHALLENGE_PREFIX + secrets.token_urlsafe(32)
        expire_time = utcnow() + MFA_CHALLENGE_TTL
        session.add(
            MfaChallengeRow(
                challenge_hash=digest(token),
                user_id=user.user_id,
                tenant_id=tenant_id,
                tenant_reference=tenant_reference[:64],
                enrolment_required=enrolment_required,
                expire_time=expire_time,
                use_time=None,
            )
        )
        return Challenge(token, expire_time, enrolment_required)

    def _audit_login(self, session: AsyncSession, tenant_id: str, user_id: str, tokens: Tokens) -> None:
        audit.record(
            session,
            "auth.login.succeeded",
            tenant_id=tenant_id,
            actor=user_subject(user_id),
            target=f"session:{tokens.access.claims.session_id}",
            client_address=client_address_var.get(),
        )

    async def _open_challenge(self, session: AsyncSession, token: str) -> tuple[MfaChallengeRow, UserRow]:
        row = await session.get(MfaChallengeRow, digest(token))
        user = await session.get(UserRow, row.user_id) if row is not None else None
        if row is None or user is None or row.use_time is not None or row.expire_time < utcnow() or user.disabled:
            raise _challenge_invalid()
        return row, user

    async def begin_challenge_enrolment(self, token: str) -> Enrolment:
        """A TOTP secret for a challenge that requires enrolling one."""
        async with self._db.core_session() as session:
            challenge, user = await self._open_challenge(session, token)
            if not challenge.enrolment_required or await self._mfa.has_factor(session, user.user_id):
                raise already_enrolled()
            enrolment = await self._mfa.start(session, user)
            await session.commit()
        return enrolment

    async def complete_challenge(self, token: str, code: str) -> Completed:
        """Checks the second factor of a challenged login and opens its session.

        Wrong codes count against the same lockout keys as wrong passwords; a right code is spent
        (no replay) and the challenge is single use."""
        async with self._db.core_session() as session:
            challenge, user = await self._open_challenge(session, token)
        # The login that opened the challenge resolved its tenant: the same counters as its.
        keys = self._throttle_keys(challenge.tenant_id, challenge.tenant_reference, user.email)
        async with self._throttle.attempt(keys) as attempt, self._db.core_session() as session:
            recovery_codes: list[str] = []
            if challenge.enrolment_required and not await self._mfa.has_factor(session, user.user_id):
                confirmed = await self._mfa.confirm_pending(session, user.user_id, code)
                ok = confirmed is not None
                recovery_codes = confirmed or []
            else:
                ok = await self._mfa.check(session, user.user_id, code)
            if not ok:
                await session.rollback()
                await self._login_failed(attempt, challenge.tenant_reference, user.email, "wrong-code", code_invalid())
            used = await session.execute(
                update(MfaChallengeRow)
                .where(MfaChallengeRow.challenge_hash == challenge.challenge_hash, MfaChallengeRow.use_time.is_(None))
                .values(use_time=utcnow())
            )
            membership = await session.get(MembershipRow, (challenge.tenant_id, user.user_id))
            if getattr(used, "rowcount", 0) != 1 or membership is None:
                await session.rollback()
                raise _challenge_invalid()
            attempt.succeeded(keys[0])
            tokens = await self._open_session(session, user_subject(user.user_id), challenge.tenant_id, membership)
            if recovery_codes:
                record_by_user(session, "auth.mfa.enrolled", challenge.tenant_id, user.user_id)
            self._audit_login(session, challenge.tenant_id, user.user_id, tokens)
            await session.commit()
        return Completed(tokens, recovery_codes)

    async def _login_failed(
        self, attempt: Attempt, tenant: str, email: str, why: str, error: Unauthenticated | None = None
    ) -> Tokens:
        failure = _Failure("auth.login.failed", "anonymous", f"email:{email}", {"tenant": tenant[:64], "why": why})
        await self._record_failure(attempt, failure)
        raise error or _invalid_credentials()

    async def _record_failure(self, attempt: Attempt, failure: _Failure) -> None:
        """Keeps the attempt counted as a failure and audits it (and any lock its count set)."""
        locked = attempt.failed()
        async with self._db.core_session() as session:
            for key in locked:
                audit.record(
                    session,
                    "auth.login.locked",
                    actor=failure.actor,
                    target=key[:120],
                    client_address=client_address_var.get(),
                )
            audit.record(
                session,
                failure.action,
                tenant_id=failure.tenant_id,
                actor=failure.actor,
                target=failure.target[:120],
                client_address=client_address_var.get(),
                details=failure.details,
            )
            await session.commit()

    async def _open_session(
        self, session: AsyncSession, subject: str, tenant_id: str, membership: MembershipRow
    ) -> Tokens:
        roles = roles_of(membership)
        permissions = await self._deps.roles.permissions_for(session, tenant_id, roles)
        now = utcnow()
        session_id = uuid7()
        refresh = new_refresh_token()
        session.add(
            SessionRow(
                session_id=session_id,
                subject=subject,
                tenant_id=tenant_id,
                create_time=now,
                expire_time=now + timedelta(seconds=self._settings.refresh_token_ttl_seconds),
                revoke_time=None,
                revoke_reason="",
            )
        )
        session.add(RefreshTokenRow(token_hash=digest(refresh), session_id=session_id, issue_time=now, use_time=None))
        access = await self._issuer.issue(
            subject=subject, tenant_id=tenant_id, session_id=session_id, roles=roles, permissions=permissions
        )
        return Tokens(access=access, refresh_token=refresh)

    async def refresh(self, refresh_token: str) -> Tokens:
        # The hot path of a busy platform: statements built once (_REFRESH_*), one read and
        # one write, each committing on its own. The write is the last step and the only
        # one that changes anything, so a refresh that fails leaves nothing behind: the
        # successor's unique parent_hash is what makes the token single use, not a
        # transaction around the read.
        token_hash = digest(refresh_token)
        now = utcnow()
        async with self._db.core_autocommit() as conn:
            found = (await conn.execute(_REFRESH_LOOKUP, {"token_hash": token_hash})).first()
            if found is None or found.revoke_time is not None or found.expire_time < now:
                raise _refresh_invalid()
            family = _Family(found.session_id, found.subject, found.tenant_id)
            if found.successor_hash is not None or found.use_time is not None:
                raise await self._reused(family)
            if found.roles_json is None or found.disabled is not False:
                # Not (or no longer) an enabled member of the session's tenant.
                await self._revoke_family(family, "MEMBERSHIP_GONE")
                raise _refresh_invalid()
            await require_usable_tenant(self._tenants, family.tenant_id, _refresh_invalid())
            roles = json.loads(found.roles_json)
            if _factor_missing(found, roles):
                await self._revoke_family(family, "MFA_REQUIRED")
                raise Unauthenticated(
                    "this tenant now requires a second factor: log in again to set one up",
                    reason=AuthReason.MFA_ENROLMENT_REQUIRED,
                )
            permissions = await self._deps.roles.permissions_for(conn, family.tenant_id, roles)
            # Signed before the write: once the successor is stored, nothing may fail.
            access = await self._issuer.issue(
                subject=family.subject,
                tenant_id=family.tenant_id,
                session_id=family.session_id,
                roles=roles,
                permissions=permissions,
            )
            refresh = new_refresh_token()
            successor = {"token_hash": digest(refresh), "session_id": family.session_id, "issue_time": now}
            try:
                await conn.execute(_REFRESH_ISSUE, {**successor, "use_time": None, "parent_hash": token_hash})
            except IntegrityError:
                # A concurrent refresh with the same token stored its successor first.
                raise await self._reused(family) from None
        return Tokens(access=access, refresh_token=refresh)

    async def _reused(self, family: _Family) -> Unauthenticated:
        """A consumed refresh token came back: it was copied, so the whole session goes."""
        await self._revoke_family(family, "REFRESH_TOKEN_REUSED")
        return Unauthenticated(
            "the refresh token was already used; the session is revoked", reason=AuthReason.REFRESH_TOKEN_REUSED
        )

    async def _revoke_family(self, family: _Family, reason: str) -> None:
        async with self._db.core_session() as session:
            await session.execute(
                update(SessionRow)
                .where(SessionRow.session_id == family.session_id, SessionRow.revoke_time.is_(None))
                .values(revoke_time=utcnow(), revoke_reason=reason)
            )
            if reason == "REFRESH_TOKEN_REUSED":
                audit.record(
                    session,
                    "auth.refresh.reused",
                    tenant_id=family.tenant_id,
                    actor=family.subject,
                    target=f"session:{family.session_id}",
                    client_address=client_address_var.get(),
                )
            await session.commit()
        await self._deps.revoker.revoke_session(family.session_id, family.tenant_id)

    async def logout(self, principal: Principal) -> None:
        session_id = principal.session_id or ""
        async with self._db.core_session() as session:
            await session.execute(
                update(SessionRow)
                .where(SessionRow.session_id == session_id, SessionRow.revoke_time.is_(None))
                .values(revoke_time=utcnow(), revoke_reason="LOGOUT")
            )
            audit.record(session, "auth.logout", tenant_id=principal.tenant_id or "", target=f"session:{session_id}")
            await session.commit()
        await self._deps.revoker.revoke_session(session_id, principal.tenant_id or "")

    async def switch_tenant(self, principal: Principal, tenant_reference: str) -> Tokens:
        """Refusals are counted per caller and locked like logins past the address threshold
        (SWITCH_RATE_LIMITED): trying tenant after tenant is not free."""
        kind, _, user_id = principal.subject.partition(":")
        keys = (ThrottleKey(f"switch:{principal.subject}"[:320], self._settings.address_max_failures),)
        async with self._throttle.attempt(keys, reason=AuthReason.SWITCH_RATE_LIMITED) as attempt:
            tenant = await self.resolve_tenant(tenant_reference)
            async with self._db.core_session() as session:
                membership = (
                    await session.get(MembershipRow, (tenant.tenant_id, user_id))
                    if kind == "user" and tenant is not None
                    else None
                )
            if tenant is None or membership is None:
                target = f"tenant:{normalize_reference(tenant_reference)}"
                await self._record_failure(attempt, _Failure("auth.tenant.switch_refused", principal.subject, target))
                raise PermissionDenied("the caller is not a member of that tenant", reason=AuthReason.NOT_A_MEMBER)
        async with self._db.core_session() as session:
            required = (await policy_of(session, tenant.tenant_id)).requires(roles_of(membership))
            if required and not await self._mfa.has_factor(session, user_id):
                # Enrolling happens in a login to that tenant, where the challenge asks for it.
                raise FailedPrecondition(
                    "that tenant requires a second factor: log in to it to set one up",
                    reason=AuthReason.MFA_ENROLMENT_REQUIRED,
                )
            tokens = await self._open_session(session, principal.subject, tenant.tenant_id, membership)
            # Not where from: that tenant is none of this one's business (often the person's home).
            audit.record(
                session,
                "auth.tenant.switched",
                tenant_id=tenant.tenant_id,
                target=f"session:{tokens.access.claims.session_id}",
            )
            await session.commit()
        return tokens

    async def user_of(self, principal: Principal) -> UserRow | None:
        kind, _, user_id = principal.subject.partition(":")
        if kind != "user":
            return None
        async with self._db.core_session() as session:
            return await session.get(UserRow, user_id)

    async def _own_lockout_keys(
        self, principal: Principal, not_a_user: str
    ) -> tuple[UserRow, str, tuple[ThrottleKey, ThrottleKey]]:
        """The caller's user, tenant and login lockout keys (the account in the token's tenant, the
        client address), for self-service calls that check a secret of the caller's own."""
        user = await self.user_of(principal)
        if user is None:
            raise NotFound(not_a_user, reason=AuthReason.USER_NOT_FOUND)
        tenant_id = principal.tenant_id or ""
        return user, tenant_id, self._throttle_keys(tenant_id, tenant_id, user.email)

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Wrong current passwords count against the login's lockout keys (the account in this
        tenant and the client address) and are audited: a stolen access token must not buy
        unlimited guesses at the password."""
        user, tenant_id, keys = await self._own_lockout_keys(principal, "only users have passwords")
        async with self._throttle.attempt(keys) as attempt:
            if not (await verify_password(user.password_hash, current)).ok:
                failure = _Failure(
                    "auth.password.change_failed", principal.subject, principal.subject, tenant_id=tenant_id
                )
                await self._record_failure(attempt, failure)
                raise _invalid_credentials()
            attempt.succeeded(keys[0])
        check_policy(new, "new_password")
        new_hash = await hash_password(new)
        async with self._db.core_session() as session:
            await session.execute(
                update(UserRow)
                .where(UserRow.user_id == user.user_id)
                .values(password_hash=new_hash, update_time=utcnow(), revision=UserRow.revision + 1)
            )
            others = list(
                (
                    await session.execute(
                        select(SessionRow.session_id, SessionRow.tenant_id).where(
                            SessionRow.subject == principal.subject,
                            SessionRow.revoke_time.is_(None),
                            SessionRow.session_id != (principal.session_id or ""),
                        )
                    )
                ).all()
            )
            await session.execute(
                update(SessionRow)
                .where(SessionRow.session_id.in_([s for s, _ in others]))
                .values(revoke_time=utcnow(), revoke_reason="PASSWORD_CHANGED")
            )
            audit.record(
                session, "auth.password.changed", tenant_id=principal.tenant_id or "", target=principal.subject
            )
            await session.commit()
        for session_id, tenant_id in others:
            await self._deps.revoker.revoke_session(session_id, tenant_id)

    async def guard_factor_code(self, principal: Principal, check: Callable[[], Awaitable[T]]) -> T:
        """Runs ``check``, a self-service call that checks a code of the caller's own factor
        (DisableTotp, RegenerateRecoveryCodes), under the login's lockout keys: a wrong code counts
        and is audited like a wrong password, and a locked account is refused before the code is
        looked at. Without it a stolen token bought unlimited guesses at the factor."""
        _, tenant_id, keys = await self._own_lockout_keys(principal, "only users have a second factor")
        async with self._throttle.attempt(keys) as attempt:
            try:
                result = await check()
            except Unauthenticated as error:
                if error.reason == AuthReason.MFA_CODE_INVALID:
                    failure = _Failure(
                        "auth.mfa.code_failed", principal.subject, principal.subject, tenant_id=tenant_id
                    )
                    await self._record_failure(attempt, failure)
                raise
            attempt.succeeded(keys[0])
        return result

    async def exchange_api_key(self, api_key: str) -> Tokens:
        """Wrong keys are counted per client address (locked like logins past the address
        threshold) and audited; no part of the key is written down."""
        keys = (address_key(client_address_var.get(), self._settings.address_max_failures, kind="api-key"),)
        async with self._throttle.attempt(keys) as attempt:
            async with self._db.core_session() as session:
                account = (
                    await session.execute(
                        select(ServiceAccountRow).where(ServiceAccountRow.api_key_hash == digest(api_key))
                    )
                ).scalar_one_or_none()
            if account is None:
                await self._record_failure(attempt, _Failure("auth.api_key.failed", "anonymous", "api-key"))
                raise _api_key_invalid()
        async with self._db.core_session() as session:
            await require_usable_tenant(self._tenants, account.tenant_id, _api_key_invalid())
            roles = json.loads(account.roles_json)
            permissions = await self._deps.roles.permissions_for(session, account.tenant_id, roles)
            now = utcnow()
            session_id = uuid7()
            ttl = self._settings.api_token_ttl_seconds
            session.add(
                SessionRow(
                    session_id=session_id,
                    subject=f"service-account:{account.service_account_id}",
                    tenant_id=account.tenant_id,
                    create_time=now,
                    expire_time=now + timedelta(seconds=ttl),
                    revoke_time=None,
                    revoke_reason="",
                )
            )
            access = await self._issuer.issue(
                subject=f"service-account:{account.service_account_id}",
                tenant_id=account.tenant_id,
                session_id=session_id,
                roles=roles,
                permissions=permissions,
                ttl_seconds=ttl,
            )
            await session.commit()
        return Tokens(access=access, refresh_token="")
