"""What GetMe shows of a user, cached briefly in each process.

GetMe is what a browser calls on every page load, and everything else in its
answer comes from the token. The user's email, display name and disabled flag
are read from the database at most once per ``ttl_seconds`` per user and
process. A change made through this process is visible at once (the entry is
forgotten after the commit); one made through another replica shows within the
TTL. Staleness never lets a disabled user in: disabling revokes the user's
tokens everywhere (revocation.py), so GetMe is refused before it gets here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, select

from services.auth.models import UserRow
from services.runtime.cache import MISS, Cache
from services.runtime.db import DatabaseRouter

DEFAULT_TTL_SECONDS = 5.0
DEFAULT_MAX_ENTRIES = 10_000

_users = cast(Table, UserRow.__table__)
_PROFILE = select(_users.c.user_id, _users.c.email, _users.c.display_name, _users.c.disabled).where(
    _users.c.user_id == bindparam("user_id")
)


@dataclass(frozen=True)
class UserProfile:
    user_id: str
    email: str
    display_name: str
    disabled: bool


class UserProfiles:
    def __init__(
        self,
        db: DatabaseRouter,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._entries: Cache[str, UserProfile] = Cache(
            "user-profiles", ttl_seconds=ttl_seconds, max_entries=max_entries, clock=clock
        )

    async def get(self, user_id: str) -> UserProfile | None:
        """The user's profile, None if there is no such user (not cached: it may be created)."""
        cached = self._entries.get(user_id)
        if cached is not MISS:
            return cached
        async with self._db.core_autocommit() as conn:  # one read: no transaction to end
            row = (await conn.execute(_PROFILE, {"user_id": user_id})).first()
        if row is None:
            return None
        profile = UserProfile(row.user_id, row.email, row.display_name, bool(row.disabled))
        self._entries.put(user_id, profile)
        return profile

    def forget(self, user_id: str) -> None:
        """Call after committing a change to the user: the next read goes to the database."""
        self._entries.pop(user_id)
