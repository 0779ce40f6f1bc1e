"""The per-process cache of what GetMe shows of a user (services/auth/profiles.py), on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from services.auth.app import CORE_MIGRATIONS
from services.auth.models import UserRow
from services.auth.profiles import UserProfiles
from services.runtime.clock import utcnow
from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.db import DatabaseRouter, upgrade_core
from services.runtime.ids import uuid7

TTL = 5.0


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def router(db_backend_url: str) -> AsyncIterator[DatabaseRouter]:
    router = DatabaseRouter(db_backend_url)
    await router.start()
    await upgrade_core(router, CORE_MIGRATIONS)
    try:
        yield router
    finally:
        await router.dispose()


async def add_user(router: DatabaseRouter, display_name: str) -> str:
    user_id, now = uuid7(), utcnow()
    async with router.core_session() as session:
        session.add(
            UserRow(
                user_id=user_id,
                home_tenant_id=PLATFORM_TENANT_ID,
                email=f"{user_id}@example.test",
                display_name=display_name,
                password_hash="not-a-hash",
                disabled=False,
                revision=1,
                create_time=now,
                update_time=now,
            )
        )
        await session.commit()
    return user_id


async def rename_elsewhere(router: DatabaseRouter, user_id: str, display_name: str) -> None:
    """A change committed by another replica: this process's cache is not told."""
    async with router.core_session() as session:
        await session.execute(update(UserRow).where(UserRow.user_id == user_id).values(display_name=display_name))
        await session.commit()


async def test_a_profile_is_read_once_per_ttl_and_then_again(router: DatabaseRouter) -> None:
    clock = FakeClock()
    profiles = UserProfiles(router, ttl_seconds=TTL, clock=clock)
    user_id = await add_user(router, "Ada")
    first = await profiles.get(user_id)
    assert first is not None
    assert (first.display_name, first.email, first.disabled) == ("Ada", f"{user_id}@example.test", False)

    await rename_elsewhere(router, user_id, "Ada L.")
    clock.now += TTL - 0.1
    cached = await profiles.get(user_id)
    assert cached is not None
    assert cached.display_name == "Ada"
    clock.now += 0.2
    fresh = await profiles.get(user_id)
    assert fresh is not None
    assert fresh.display_name == "Ada L."


async def test_forget_makes_a_local_change_visible_at_once(router: DatabaseRouter) -> None:
    profiles = UserProfiles(router, ttl_seconds=TTL, clock=FakeClock())
    user_id = await add_user(router, "Grace")
    assert (await profiles.get(user_id)) is not None
    await rename_elsewhere(router, user_id, "Grace H.")
    profiles.forget(user_id)
    profile = await profiles.get(user_id)
    assert profile is not None
    assert profile.display_name == "Grace H."


async def test_unknown_users_are_none_and_the_cache_stays_bounded(router: DatabaseRouter) -> None:
    profiles = UserProfiles(router, ttl_seconds=TTL, max_entries=2, clock=FakeClock())
    assert await profiles.get(uuid7()) is None
    users = [await add_user(router, f"user {i}") for i in range(3)]
    for user_id in users:
        assert await profiles.get(user_id) is not None
    await rename_elsewhere(router, users[0], "renamed")
    # users[0] was evicted as the least recently used of three entries in a cache of two.
    profile = await profiles.get(users[0])
    assert profile is not None
    assert profile.display_name == "renamed"
