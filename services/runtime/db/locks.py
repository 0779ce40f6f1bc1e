"""Named locks between processes, for work that must happen once (migrations, first keys).

MySQL/MariaDB: ``GET_LOCK`` on the given connection. The lock belongs to the
server session, so whatever runs under it may use other connections, and a
crashed holder's lock is released with its connection. SQLite: no lock; an
embedded database has one writing process (``make run``), and asyncio locks in
the callers cover concurrency inside it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_log = logging.getLogger(__name__)

_MYSQL_BACKENDS = frozenset({"mysql", "mariadb"})
MAX_LOCK_NAME = 64  # MySQL's limit


class LockTimeout(RuntimeError):
    def __init__(self, name: str, timeout_seconds: float, answer: object) -> None:
        super().__init__(
            f"could not take the lock {name!r} within {timeout_seconds} s (GET_LOCK returned {answer}): "
            "another process still holds it"
        )
        self.name = name


@asynccontextmanager
async def named_lock(conn: AsyncConnection, name: str, timeout_seconds: float) -> AsyncIterator[None]:
    """Holds the server-wide lock ``name`` on ``conn`` for the block; raises LockTimeout."""
    if conn.dialect.name not in _MYSQL_BACKENDS:
        yield
        return
    if not name or len(name) > MAX_LOCK_NAME:
        raise ValueError(f"lock names are 1 to {MAX_LOCK_NAME} characters: {name!r}")
    acquired = (
        await conn.execute(text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": timeout_seconds})
    ).scalar()
    # The lock belongs to the session, not the transaction: end the transaction so the
    # work under the lock starts with a fresh snapshot.
    await conn.commit()
    if acquired != 1:
        raise LockTimeout(name, timeout_seconds, acquired)
    try:
        yield
    finally:
        try:
            await conn.rollback()  # failed work may have left a transaction open
            await conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            await conn.commit()
        except Exception:
            # Closing the session releases the lock; never return it to the pool still held.
            _log.warning("releasing lock %s failed; discarding the connection", name, exc_info=True)
            await conn.invalidate()
