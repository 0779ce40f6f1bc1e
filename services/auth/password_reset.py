"""Replacing a user's password from outside their own session: a home-tenant administrator
(UserService.SetUserPassword), an operator at the command line (the platform administrator,
through the service key or straight in the database), or a reset mailed to the user.

Every path ends the user's sessions: whoever had the old password must not keep a way in.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.identities import user_subject
from services.auth.models import SessionRow, UserRow
from services.runtime.clock import utcnow


async def replace_password(session: AsyncSession, user: UserRow, password_hash: str, reason: str) -> None:
    """Stores the new hash and revokes every session of the user (in ``session``; the caller commits,
    then publishes ``revoke_subject`` so that live access tokens are refused too)."""
    now = utcnow()
    await session.execute(
        update(UserRow)
        .where(UserRow.user_id == user.user_id)
        .values(password_hash=password_hash, revision=UserRow.revision + 1, update_time=now)
    )
    await session.execute(
        update(SessionRow)
        .where(SessionRow.subject == user_subject(user.user_id), SessionRow.revoke_time.is_(None))
        .values(revoke_time=now, revoke_reason=reason)
    )
