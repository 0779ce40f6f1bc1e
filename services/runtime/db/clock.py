"""The database server's clock: what leases shared between processes are counted on.

A lease (a tenant's provisioning lease, an outbox mark) is written by one process and judged
expired by another. Counted on each process's own clock, a process whose clock runs ahead
takes over work whose holder is alive, and one that runs behind writes leases that are
already over for everyone else. Taken from the database both sides share, the lease is
written and compared on one clock; one read per lease operation, which are rare (a
provisioning step, a reconciler round, a mark renewed every few seconds).

Times are naive UTC in whole seconds, as :func:`services.runtime.clock.utcnow` stores them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# UTC whatever the server's or session's time zone (NOW() and CURRENT_TIMESTAMP follow the
# session's on MariaDB); SQLite's 'now' is UTC.
_MYSQL_NOW = text("SELECT UTC_TIMESTAMP()")
_SQLITE_NOW = text("SELECT datetime('now')")


async def database_now(conn: AsyncConnection | AsyncSession) -> datetime:
    """The database server's current time (naive UTC, whole seconds)."""
    connection = await conn.connection() if isinstance(conn, AsyncSession) else conn
    value = await connection.scalar(_SQLITE_NOW if connection.dialect.name == "sqlite" else _MYSQL_NOW)
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"the database answered its time as {value!r}")
    return value.replace(microsecond=0)


async def database_after(conn: AsyncConnection | AsyncSession, seconds: float) -> datetime:
    """When a lease of ``seconds`` taken now ends, on the database's clock."""
    return await database_now(conn) + timedelta(seconds=seconds)
