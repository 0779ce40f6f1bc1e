"""Revocations kept in the core database (with or without Redis).

Without Redis the revocation list lived only in memory, so restarting the platform
brought back every logged-out session, disabled user and removed member until their
tokens expired. Each revocation is now written to ``token_revocations`` in the same
transaction as its ``auth.revoked`` event, and :class:`~services.runtime.app.Runtime`
loads the rows still in force before any server starts. With Redis they are written
here too (and mirrored to its hash): a revocation decided while Redis is down must not
fail, nor be unknown to a process that starts before Redis returns.

The table is runtime infrastructure like the outbox, with its own migration history.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Double, MetaData, String, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.auth.revocation import Revocation, RevocationList
from services.runtime.db import DatabaseRouter, MigrationSet

REVOCATION_MIGRATIONS = MigrationSet(
    service="revocations", scope="core", directory=Path(__file__).parent.parent / "migrations" / "revocations"
)


class _Base(DeclarativeBase):
    metadata = MetaData()


class RevocationRow(_Base):
    __tablename__ = "token_revocations"

    entry_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    revoked_key: Mapped[str] = mapped_column(String(160))
    tenant_id: Mapped[str] = mapped_column(String(36))
    cutoff: Mapped[float] = mapped_column(Double)
    expires: Mapped[float] = mapped_column(Double)


async def save_revocation(conn: AsyncConnection, revocation: Revocation) -> None:
    """Writes ``revocation`` in the caller's transaction (replacing an older one of the same
    session or subject: a later cut-off covers an earlier one) and drops expired rows."""
    await conn.execute(delete(RevocationRow).where(RevocationRow.expires <= time.time()))
    await conn.execute(delete(RevocationRow).where(RevocationRow.entry_key == revocation.entry_key))
    await conn.execute(
        insert(RevocationRow).values(
            entry_key=revocation.entry_key,
            kind=revocation.kind,
            revoked_key=revocation.key,
            tenant_id=revocation.tenant_id,
            cutoff=revocation.cutoff,
            expires=revocation.expires,
        )
    )


async def load_revocations(db: DatabaseRouter, into: RevocationList, *, expiring_after: float = 0.0) -> int:
    """Applies every stored revocation still in force (and, with ``expiring_after``, expiring after
    it: the indexed high-water-mark read of :mod:`~services.runtime.auth.revocation_follower`);
    returns how many."""
    async with db.core_transaction() as conn:
        columns = (RevocationRow.kind, RevocationRow.revoked_key, RevocationRow.tenant_id)
        times = (RevocationRow.cutoff, RevocationRow.expires)
        after = max(time.time(), expiring_after)
        rows = (await conn.execute(select(*columns, *times).where(RevocationRow.expires > after))).all()
    for row in rows:
        into.apply(Revocation(row.kind, row.revoked_key, row.tenant_id, cutoff=row.cutoff, expires=row.expires))
    return len(rows)
