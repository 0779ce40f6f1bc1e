"""The second factor of an identity: TOTP enrolment, recovery codes, code checks.

The TOTP secret is sealed with the key-encryption key (bound to the user id,
so a sealed secret cannot be moved to another row) and is shown once, when it
is enrolled. An enrolment counts once a first code confirmed it; confirming
hands out ten recovery codes, shown once and kept as SHA-256 digests (they are
random, 50 bits each, and single use, so a slow hash buys nothing while the
login lockout bounds guessing). Disabling needs a fresh code; a home-tenant
administrator can remove the factor instead (UserService.ResetUserMfa).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit, totp
from services.auth.identities import user_subject
from services.auth.keys import KeyEncryption
from services.auth.models import RecoveryCodeRow, TotpRow, UserRow
from services.auth.reasons import AuthReason
from services.runtime.clock import utcnow
from services.runtime.context import client_address_var
from services.runtime.db import DatabaseRouter
from services.runtime.errors import FailedPrecondition, NotFound, Unauthenticated

RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32
    otpauth_uri: str


@dataclass(frozen=True)
class MfaStatus:
    totp_enabled: bool
    recovery_codes_left: int


def code_invalid() -> Unauthenticated:
    return Unauthenticated("the code is not valid", reason=AuthReason.MFA_CODE_INVALID)


def not_enrolled() -> FailedPrecondition:
    return FailedPrecondition("no second factor is set up", reason=AuthReason.MFA_NOT_ENROLLED)


def already_enrolled() -> FailedPrecondition:
    return FailedPrecondition("a second factor is already set up", reason=AuthReason.MFA_ALREADY_ENROLLED)


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _recovery_digest(code: str) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalized.encode()).hexdigest()


def _aad(user_id: str) -> str:
    return f"totp:{user_id}"


class SecondFactor:
    def __init__(self, db: DatabaseRouter, encryption: KeyEncryption) -> None:
        self._db = db
        self._encryption = encryption

    # -- queries for login (callers own the transaction) -------------------------------------------

    async def has_factor(self, session: AsyncSession, user_id: str) -> bool:
        row = await session.get(TotpRow, user_id)
        return row is not None and row.confirm_time is not None

    async def check(self, session: AsyncSession, user_id: str, code: str, *, recovery: bool = True) -> bool:
        """Whether ``code`` is a current, unused TOTP code of the user's confirmed factor (or, with
        ``recovery``, an unused recovery code). A match is spent in ``session``: the caller commits."""
        row = await session.get(TotpRow, user_id)
        if row is None or row.confirm_time is None:
            return False
        if await self._spend_totp(session, row, code):
            return True
        return recovery and await self._spend_recovery(session, user_id, code)

    async def start(self, session: AsyncSession, user: UserRow) -> Enrolment:
        """A new, unconfirmed secret for ``user`` (replacing an unconfirmed one)."""
        row = await session.get(TotpRow, user.user_id, with_for_update=True)
        if row is not None and row.confirm_time is not None:
            raise already_enrolled()
        secret = totp.new_secret()
        sealed = self._encryption.seal(secret, _aad(user.user_id))
        if row is None:
            session.add(
                TotpRow(
                    user_id=user.user_id,
                    secret_encrypted=sealed,
                    confirm_time=None,
                    last_step=0,
                    create_time=utcnow(),
                )
            )
        else:
            row.secret_encrypted, row.last_step, row.create_time = sealed, 0, utcnow()
        return Enrolment(totp.base32(secret), totp.otpauth_uri(secret, user.email))

    async def confirm_pending(self, session: AsyncSession, user_id: str, code: str) -> list[str] | None:
        """Confirms an unconfirmed enrolment with its first code; the new recovery codes, or None
        when the code does not match (or nothing is pending)."""
        row = await session.get(TotpRow, user_id, with_for_update=True)
        if row is None or row.confirm_time is not None or not await self._spend_totp(session, row, code):
            return None
        await session.execute(update(TotpRow).where(TotpRow.user_id == user_id).values(confirm_time=utcnow()))
        return await self._replace_recovery_codes(session, user_id)

    async def pending(self, session: AsyncSession, user_id: str) -> bool:
        row = await session.get(TotpRow, user_id)
        return row is not None and row.confirm_time is None

    # -- self-service (MfaService) -----------------------------------------------------------------

    async def status(self, user_id: str) -> MfaStatus:
        async with self._db.core_session() as session:
            enabled = await self.has_factor(session, user_id)
            left = (
                await session.execute(
                    select(func.count())
                    .select_from(RecoveryCodeRow)
                    .where(RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.use_time.is_(None))
                )
            ).scalar_one()
        return MfaStatus(enabled, int(left) if enabled else 0)

    async def enrol(self, user_id: str, tenant_id: str) -> Enrolment:
        async with self._db.core_session() as session:
            user = await session.get(UserRow, user_id)
            if user is None:
                raise NotFound("only users have a second factor", reason=AuthReason.USER_NOT_FOUND)
            enrolment = await self.start(session, user)
            self._audit(session, "auth.mfa.enrolment_started", tenant_id, user_id)
            await session.commit()
        return enrolment

    async def confirm(self, user_id: str, tenant_id: str, code: str) -> list[str]:
        async with self._db.core_session() as session:
            if not await self.pending(session, user_id):
                raise FailedPrecondition("no enrolment is waiting for a code", reason=AuthReason.MFA_NOT_ENROLLING)
            codes = await self.confirm_pending(session, user_id, code)
            if codes is None:
                raise code_invalid()
            self._audit(session, "auth.mfa.enrolled", tenant_id, user_id)
            await session.commit()
        return codes

    async def disable(self, user_id: str, tenant_id: str, code: str) -> None:
        async with self._db.core_session() as session:
            if not await self.has_factor(session, user_id):
                raise not_enrolled()
            if not await self.check(session, user_id, code):
                raise code_invalid()
            await session.execute(delete(TotpRow).where(TotpRow.user_id == user_id))
            await session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
            self._audit(session, "auth.mfa.disabled", tenant_id, user_id)
            await session.commit()

    async def regenerate(self, user_id: str, tenant_id: str, code: str) -> list[str]:
        async with self._db.core_session() as session:
            if not await self.has_factor(session, user_id):
                raise not_enrolled()
            if not await self.check(session, user_id, code, recovery=False):
                raise code_invalid()
            codes = await self._replace_recovery_codes(session, user_id)
            self._audit(session, "auth.mfa.recovery_codes_replaced", tenant_id, user_id)
            await session.commit()
        return codes

    # -- internals ---------------------------------------------------------------------------------

    async def _spend_totp(self, session: AsyncSession, row: TotpRow, code: str) -> bool:
        secret = self._encryption.open(row.secret_encrypted, _aad(row.user_id))
        step = totp.matching_step(secret, code, after_step=row.last_step)
        if step is None:
            return False
        # Conditional: of two logins racing with one code, only one moves last_step past it.
        result = await session.execute(
            update(TotpRow).where(TotpRow.user_id == row.user_id, TotpRow.last_step < step).values(last_step=step)
        )
        return getattr(result, "rowcount", 0) == 1

    async def _spend_recovery(self, session: AsyncSession, user_id: str, code: str) -> bool:
        result = await session.execute(
            update(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.code_hash == _recovery_digest(code),
                RecoveryCodeRow.user_id == user_id,
                RecoveryCodeRow.use_time.is_(None),
            )
            .values(use_time=utcnow())
        )
        return getattr(result, "rowcount", 0) == 1

    async def _replace_recovery_codes(self, session: AsyncSession, user_id: str) -> list[str]:
        await session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
        codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
        now = utcnow()
        for code in codes:
            session.add(
                RecoveryCodeRow(code_hash=_recovery_digest(code), user_id=user_id, use_time=None, create_time=now)
            )
        return codes

    def _audit(self, session: AsyncSession, action: str, tenant_id: str, user_id: str) -> None:
        audit.record(
            session, action, tenant_id=tenant_id, target=user_subject(user_id), client_address=client_address_var.get()
        )
