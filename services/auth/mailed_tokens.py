"""Single-use tokens mailed to a user (email verification, password reset).

A token is 256 random bits shown only in the mail; the database keeps its
SHA-256 digest (as for refresh tokens: a slow hash buys nothing for a random
secret). Issuing a new token of a purpose voids the user's earlier unused ones,
and spending one is a conditional update, so of two uses only one wins.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import UserTokenRow
from services.auth.tokens import digest
from services.runtime.clock import utcnow

VERIFY_EMAIL = "VERIFY_EMAIL"
RESET_PASSWORD = "RESET_PASSWORD"  # noqa: S105 - a purpose, not a secret
_PREFIXES = {VERIFY_EMAIL: "tmv_", RESET_PASSWORD: "tmx_"}


async def issue(
    session: AsyncSession, user_id: str, purpose: str, email: str, ttl_seconds: float
) -> tuple[str, datetime]:
    """A new token (and its expiry) in ``session``; the user's unused tokens of ``purpose`` stop working."""
    now = utcnow()
    # Superseded by primary key after a plain read: an UPDATE ... WHERE user_id locks the index
    # gap after the user's tokens even when there are none (a new user), and two transactions
    # that then insert into that gap deadlock each other on MariaDB (concurrent CreateUser
    # calls did, under the fault suite's load). A token of the same purpose issued by a
    # concurrent, uncommitted transaction is not superseded; it still expires with its TTL.
    unused = (
        (
            await session.execute(
                select(UserTokenRow.token_hash).where(
                    UserTokenRow.user_id == user_id, UserTokenRow.purpose == purpose, UserTokenRow.use_time.is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    if unused:
        await session.execute(
            update(UserTokenRow)
            .where(UserTokenRow.token_hash.in_(unused), UserTokenRow.use_time.is_(None))
            .values(use_time=now)
        )
    token = _PREFIXES[purpose] + secrets.token_urlsafe(32)
    expire_time = now + timedelta(seconds=ttl_seconds)
    session.add(
        UserTokenRow(
            token_hash=digest(token),
            user_id=user_id,
            purpose=purpose,
            email=email,
            create_time=now,
            expire_time=expire_time,
            use_time=None,
        )
    )
    return token, expire_time


async def spend(session: AsyncSession, token: str, purpose: str) -> UserTokenRow | None:
    """The token's row, marked used in ``session``; None for an unknown, used or expired token."""
    now = utcnow()
    row = await session.get(UserTokenRow, digest(token))
    if row is None or row.purpose != purpose or row.use_time is not None or row.expire_time < now:
        return None
    result = await session.execute(
        update(UserTokenRow)
        .where(UserTokenRow.token_hash == row.token_hash, UserTokenRow.use_time.is_(None))
        .values(use_time=now)
    )
    return row if getattr(result, "rowcount", 0) == 1 else None


def expiry_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")
