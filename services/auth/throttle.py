"""Brute-force protection for password logins.

Failures are counted per (tenant, email) and per client address. An attempt is
counted before it is checked and uncounted unless it fails, so guesses sent at
once get no more tries than guesses sent one by one. Past the
threshold the key is locked for a time that doubles with each further failure
(30 s, 60 s, … up to 15 min); failures older than that maximum, with no lock in
force, are forgotten. Password reset requests are counted the same way under
keys of their own. The same happens whether or not the account
exists, so lockouts reveal nothing about which emails are registered.
"""

from __future__ import annotations

import ipaddress
import unicodedata
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Executable, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import LoginThrottleRow
from services.auth.reasons import AuthReason
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.db.upsert import upsert
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


# An IPv6 client is counted for its /64 (what a provider gives one host or site), not per address.
IPV6_CLIENT_PREFIX = 64


def address_key(address: str, max_failures: int, kind: str = "address") -> ThrottleKey:
    """The key of a client address (``kind`` separates counters: logins, reset requests)."""
    return ThrottleKey(f"{kind}:{_host(address)}"[:320], max_failures)


def _host(address: str) -> str:
    """The client an address stands for: without the port of a gRPC peer ('ipv4:10.0.0.7:51234'
    -> 'ipv4:10.0.0.7'), which changes with every connection; an IPv6 address's /64, since one
    host is given a whole /64 and may use any address of it per connection; the IPv4 address of
    an IPv4-mapped one. Anything else as written."""
    scheme, host = _scheme_and_host(address)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"{scheme}{ip.ipv4_mapped}"
        return f"{scheme}{ipaddress.IPv6Network((ip.packed, IPV6_CLIENT_PREFIX), strict=False)}"
    return f"{scheme}{ip}"


def _scheme_and_host(address: str) -> tuple[str, str]:
    """('ipv6:', '::1') from a gRPC peer ('ipv6:[::1]:51234', brackets percent-encoded or not),
    ('', address) from the edge's view (an address alone)."""
    for scheme in ("ipv4:", "ipv6:"):
        if address.startswith(scheme):
            host, _, port = urllib.parse.unquote(address.removeprefix(scheme)).rpartition(":")
            return scheme, (host if port.isdigit() else address.removeprefix(scheme)).strip("[]")
    return "", address


@dataclass
class Attempt:
    """One credential check, counted as a failure against its keys before it runs (see
    LoginThrottle.attempt): ``locks`` are the locks its count set, by key."""

    keys: tuple[ThrottleKey, ...]
    locks: dict[str, datetime]
    counted: bool = False
    reset: set[str] = field(default_factory=set)

    def failed(self) -> list[str]:
        """Lets the count stand as this attempt's failure; returns the keys it locked."""
        self.counted = True
        return list(self.locks)

    def succeeded(self, key: ThrottleKey) -> None:
        """A proven credential: ``key``'s count (the account's) is forgotten when the attempt ends."""
        self.reset.add(key.key)


class LoginThrottle:
    """Counts attempts per key. An attempt is counted before it is evaluated, in one short
    transaction holding the keys' rows, and uncounted if it did not fail: checking the lock and
    counting afterwards let every guess sent at once pass the check before the first failure was
    counted. Only the reservation is a transaction; the check itself (an argon2 verification)
    runs outside it, so logins wait for each other only on a shared key."""

    def __init__(self, db: DatabaseRouter, policy: ThrottlePolicy) -> None:
        self._db = db
        self._policy = policy

    @asynccontextmanager
    async def attempt(
        self, keys: Sequence[ThrottleKey], reason: Reason = AuthReason.LOGIN_LOCKED
    ) -> AsyncIterator[Attempt]:
        """Reserves an attempt (RESOURCE_EXHAUSTED ``reason`` with RetryInfo while a key is locked).

        The body calls ``failed()`` to keep the count; otherwise it is undone when the body ends
        or raises, and the keys passed to ``succeeded()`` are forgotten. A cancelled body keeps
        its count: a guess whose outcome is unknown is not given back."""
        attempt = await self.reserve(keys, reason)
        try:
            yield attempt
        except Exception:
            if not attempt.counted:
                await self._release(attempt, reset=set())
            raise
        if not attempt.counted:
            await self._release(attempt, reset=attempt.reset)

    async def reserve(self, keys: Sequence[ThrottleKey], reason: Reason = AuthReason.LOGIN_LOCKED) -> Attempt:
        """Counts an attempt against every key, or raises RESOURCE_EXHAUSTED (``reason``, with
        RetryInfo) without counting while any key is locked; commits before returning."""
        now = utcnow()
        async with self._db.core_session() as session:
            rows = await self._hold(session, keys, now)
            wait = max(
                ((row.locked_until - now).total_seconds() for row in rows.values() if row.locked_until is not None),
                default=0.0,
            )
            if wait > 0:
                await session.rollback()
                raise ResourceExhausted("too many attempts; try again later", reason=reason, retry_after=wait)
            locks = {}
            for key in keys:
                lock = self._count(rows[key.key], key, now)
                if lock is not None:
                    locks[key.key] = lock
            await session.commit()
        return Attempt(tuple(keys), locks)

    async def _hold(
        self, session: AsyncSession, keys: Sequence[ThrottleKey], now: datetime | None
    ) -> dict[str, LoginThrottleRow]:
        """The keys' rows, write-locked for this transaction (created first when ``now`` is given).

        A write comes first so that the read after it sees every earlier reservation: on MariaDB
        it takes the row locks, on SQLite the database's write lock (a read first would pin a
        snapshot that an earlier writer may already have outdated). Keys in one order: two
        attempts sharing keys cannot deadlock."""
        names = sorted({key.key for key in keys})
        if now is not None:
            fresh = [{"throttle_key": name, "failures": 0, "last_failure_time": now} for name in names]
            await session.execute(_insert_or_keep(self._db.dialect, fresh))
        else:
            touch = update(LoginThrottleRow).where(LoginThrottleRow.throttle_key.in_(names))
            await session.execute(
                touch.values(failures=LoginThrottleRow.failures).execution_options(synchronize_session=False)
            )
        query = select(LoginThrottleRow).where(LoginThrottleRow.throttle_key.in_(names)).with_for_update()
        rows = await session.execute(query.execution_options(populate_existing=True))
        return {row.throttle_key: row for row in rows.scalars()}

    def _count(self, row: LoginThrottleRow, key: ThrottleKey, now: datetime) -> datetime | None:
        """Counts one failure on ``row``; returns the lock it sets, if it reaches the threshold."""
        quiet = (now - row.last_failure_time).total_seconds() > self._policy.max_lock_seconds
        if quiet and (row.locked_until is None or row.locked_until <= now):
            # Failures long ago and no lock in force: count afresh.
            row.failures = 0
        row.failures += 1
        row.last_failure_time = now
        excess = row.failures - key.max_failures
        if excess < 0:
            return None
        seconds = min(self._policy.lock_seconds * 2 ** min(excess, 16), self._policy.max_lock_seconds)
        # Stored times are whole seconds: one more second, truncated, makes the lock last at
        # least what the policy says, and reads back equal (see _release).
        row.locked_until = (now + timedelta(seconds=seconds + 1)).replace(microsecond=0)
        return row.locked_until

    async def _release(self, attempt: Attempt, *, reset: set[str]) -> None:
        """Undoes the attempt's count; keys in ``reset`` are forgotten altogether.

        The lock its count set is lifted, and so is any lock with fewer attempts than the
        threshold behind it (the reservation of an attempt that succeeded meanwhile made it)."""
        async with self._db.core_session() as session:
            rows = await self._hold(session, attempt.keys, None)
            for key in attempt.keys:
                row = rows.get(key.key)
                if row is None:  # forgotten meanwhile: a success reset it
                    continue
                row.failures = max(row.failures - 1, 0)
                if row.locked_until == attempt.locks.get(key.key) or row.failures < key.max_failures:
                    row.locked_until = None
                if key.key in reset or (row.failures == 0 and row.locked_until is None):
                    await session.delete(row)
            await session.commit()


def _insert_or_keep(dialect: str, rows: list[dict[str, object]]) -> Executable:
    """Inserts the rows that are missing, leaves the others as they are, and locks them all: an
    update to the same value, not MariaDB's IGNORE, takes the row's exclusive lock."""
    return upsert(
        dialect,
        LoginThrottleRow,
        rows,
        key=("throttle_key",),
        on_conflict=lambda _: {"failures": LoginThrottleRow.failures},
    )
