"""Revocations read from the core database while the event stream is out
(services/runtime/auth/revocation_follower.py): only then, and from the high-water mark on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.runtime.auth.claims import AccessClaims
from services.runtime.auth.revocation import Revocation, RevocationList
from services.runtime.auth.revocation_follower import OVERLAP_SECONDS, RevocationFollower
from services.runtime.auth.revocation_store import REVOCATION_MIGRATIONS, save_revocation
from services.runtime.db import DatabaseRouter
from tests.support.routers import migrated_router


@pytest.fixture
async def router(db_backend_url: str, tmp_path: Path) -> AsyncIterator[DatabaseRouter]:
    async with migrated_router(db_backend_url, tmp_path, REVOCATION_MIGRATIONS) as db:
        yield db


def claims(session_id: str) -> AccessClaims:
    now = int(time.time()) - 10
    return AccessClaims(
        subject="u-1",
        tenant_id="t-1",
        session_id=session_id,
        roles=(),
        permissions=frozenset(),
        issued_at=now,
        expires_at=now + 900,
        token_id="j-1",
    )


async def revoke(db: DatabaseRouter, session_id: str, *, expires_in: float = 960.0) -> None:
    # As another process's auth service does: in the core database, the event not delivered.
    now = time.time()
    async with db.core_transaction() as conn:
        await save_revocation(conn, Revocation("session", session_id, "", cutoff=now, expires=now + expires_in))
        await conn.commit()


async def test_reads_revocations_only_while_the_stream_is_out(router: DatabaseRouter) -> None:
    healthy = True
    revocations = RevocationList()
    follower = RevocationFollower(router, revocations, lambda: healthy)
    await revoke(router, "s-1")

    await follower.round()
    assert not follower.polling
    assert follower.polls == 0
    assert not revocations.is_revoked(claims("s-1"))

    healthy = False
    await follower.round()
    assert follower.polling
    assert follower.polls == 1
    assert revocations.is_revoked(claims("s-1"))
    await revoke(router, "s-2")
    await follower.round()
    assert revocations.is_revoked(claims("s-2"))

    healthy = True
    await follower.round()
    assert not follower.polling
    assert follower.polls == 2


async def test_reads_from_the_high_water_mark_less_the_overlap(router: DatabaseRouter) -> None:
    revocations = RevocationList()
    follower = RevocationFollower(router, revocations, lambda: False)
    await revoke(router, "s-old", expires_in=100.0)
    await revoke(router, "s-new", expires_in=100.0 + 2 * OVERLAP_SECONDS)
    assert await follower.poll() == 2
    # Only what expires after the newest known expiry less the overlap is read again.
    assert await follower.poll() == 1
    # Committed late, with an earlier expiry, but within the overlap: still found.
    await revoke(router, "s-late", expires_in=100.0 + 1.5 * OVERLAP_SECONDS)
    assert await follower.poll() == 2
    assert revocations.is_revoked(claims("s-late"))


async def test_keeps_its_list_when_the_core_database_is_unreachable_too(router: DatabaseRouter) -> None:
    revocations = RevocationList()
    follower = RevocationFollower(router, revocations, lambda: False)
    await revoke(router, "s-1")
    await follower.round()
    # Nothing answers on port 1: the list stays as it is, and the next round tries again.
    unreachable = DatabaseRouter("mysql+asyncmy://root@127.0.0.1:1/tm_nowhere")
    try:
        cut_off = RevocationFollower(unreachable, revocations, lambda: False)
        await cut_off.round()
        assert cut_off.polling
        assert cut_off.polls == 0
    finally:
        await unreachable.dispose()
    assert revocations.is_revoked(claims("s-1"))
