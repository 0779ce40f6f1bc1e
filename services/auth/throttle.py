"""Brute-force protection for password logins.

Failures are counted per (tenant, email) and per client address. Past the
threshold the key is locked for a time that doubles with each further failure
(30 s, 60 s, … up to 15 min); failures older than that maximum, with no lock in
force, are forgotten. Password reset requests are counted the same way under
keys of their own. The same happens whether or not the account
exists, so lockouts reveal nothing about which emails are registered.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import LoginThrottleRow
from services.auth.reasons import AuthReason
from services.runtime.clock import utcnow
from services.runtime.errors import Reason, ResourceExhausted


@dataclass(frozen=True)
class ThrottleKey:
    key: str
    max_failures: int


@dataclass(frozen=True)
class ThrottlePolicy:
    lock_seconds: float
    max_lock_seconds: float


def normalize_reference(reference: str) -> str:
    """A tenant reference (id or slug) as lookups read it: compatibility-normalised (NFKC),
    without surrounding whitespace of any kind (no-break spaces too), lower case."""
    return unicodedata.normalize("NFKC", reference).strip().lower()


def account_key(
    tenant_id: str | None, reference: str, email: str, max_failures: int, kind: str = "account"
) -> ThrottleKey:
    """The counter of one account: the resolved tenant id when the reference names a tenant,
    so every spelling of it (slug or id, any case, stray spaces) shares one counter, else
    the normalised reference; the email normalised the same way (``kind`` separates
    counters: logins, reset requests)."""
    tenant = tenant_id if tenant_id is not None else normalize_reference(reference)
    address = unicodedata.normalize("NFKC", email).strip().lower()
    return ThrottleKey(f"{kind}:{tenant}:{address}"[:320], max_failures)


def address_key(address: str, max_failures: int, kind: str = "address") -> ThrottleKey:
    """The key of a client address (``kind`` separates counters: logins, reset requests)."""
    return ThrottleKey(f"{kind}:{_host(address)}"[:320], max_failures)


def _host(address: str) -> str:
    """'ipv4:10.0.0.7:51234' -> 'ipv4:10.0.0.7': a gRPC peer's port changes with every connection."""
    if address.startswith(("ipv4:", "ipv6:")):
        host, _, port = address.rpartition(":")
        if port.isdigit():
            return host
    return address


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy) -> None:
        self._policy = policy

    async def check(
        self, session: AsyncSession, keys: Sequence[ThrottleKey], reason: Reason = AuthReason.LOGIN_LOCKED
    ) -> set[str]:
        """Raises RESOURCE_EXHAUSTED (``reason``, LOGIN_LOCKED by default, with RetryInfo) while any key is locked.

        Returns the keys that have recorded failures (so a success need not clear the others).
        """
        now = utcnow()
        rows = list(
            (
                await session.execute(
                    select(LoginThrottleRow).where(LoginThrottleRow.throttle_key.in_([k.key for k in keys]))
                )
            ).scalars()
        )
        wait = max(
            ((row.locked_until - now).total_seconds() for row in rows if row.locked_until is not None),
            default=0.0,
        )
        if wait > 0:
            raise ResourceExhausted("too many attempts; try again later", reason=reason, retry_after=wait)
        return {row.throttle_key for row in rows}

    async def failed(self, session: AsyncSession, keys: Sequence[ThrottleKey]) -> list[str]:
        """Counts a failure against every key; returns the keys this failure locked."""
        now = utcnow()
        locked = []
        for key in keys:
            row = await session.get(LoginThrottleRow, key.key, with_for_update=True)
            if row is None:
                row = LoginThrottleRow(throttle_key=key.key, failures=0, locked_until=None, last_failure_time=now)
                session.add(row)
            quiet = (now - row.last_failure_time).total_seconds() > self._policy.max_lock_seconds
            if quiet and (row.locked_until is None or row.locked_until <= now):
                # Failures long ago and no lock in force: count afresh.
                row.failures = 0
            row.failures += 1
            row.last_failure_time = now
            excess = row.failures - key.max_failures
            if excess >= 0:
                seconds = min(self._policy.lock_seconds * 2 ** min(excess, 16), self._policy.max_lock_seconds)
                # Stored times are whole seconds (truncated): one more second
                # makes the lock last at least what the policy says.
                row.locked_until = now + timedelta(seconds=seconds + 1)
                locked.append(key.key)
        return locked

    async def succeeded(self, session: AsyncSession, key: ThrottleKey) -> None:
        await session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.throttle_key == key.key))
