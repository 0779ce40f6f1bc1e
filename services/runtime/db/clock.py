"""The database server's clock: what leases shared between processes are counted on.

A lease (a tenant's provisioning lease, an outbox mark, a delivery claim, a registry
instance) is written by one process and judged expired by another. Counted on each
process's own clock, a process whose clock runs ahead takes over work whose holder is
alive, and one that runs behind writes leases that are already over for everyone else.
Taken from the database both sides share, the lease is written and compared on one clock.

A lease is computed in Python from one read of that clock (:func:`database_now`,
:func:`database_after`): the arithmetic differs per dialect in SQL, and one read per lease
operation is cheap next to the operation. Where a row takes the current time as it is and
nothing can be awaited (an ORM ``add`` in a producer's transaction), :func:`database_clock`
is that time as SQL, evaluated by the server in the statement.

Times are naive UTC: whole seconds, as :func:`services.runtime.clock.utcnow` stores them, or
with their sub-second digits (``precise``) for columns that keep them (the delivery queue's
due times). SQLite's clock has milliseconds, MariaDB's microseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

# What a component that judges leases is given, so tests can move its time on from the
# database's (the registry's instance leases); :func:`database_now` in production.
LeaseClock = Callable[[AsyncConnection | AsyncSession], Awaitable[datetime]]


class database_clock(FunctionElement[datetime]):  # noqa: N801 - used as a SQL function, like func.now()
    """The database server's current time, naive UTC with its sub-second digits, as SQL."""

    type = DateTime()
    name = "database_clock"
    inherit_cache = True


# UTC whatever the server's or session's time zone (NOW() and CURRENT_TIMESTAMP follow the
# session's on MariaDB).
_MARIADB_CLOCK = "UTC_TIMESTAMP(6)"
# SQLite's 'now' is UTC, to the millisecond; padded to the six digits SQLAlchemy stores
# DateTime values with, so stored times compare as the strings they are.
_SQLITE_CLOCK = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


@compiles(database_clock)
def _compile_database_clock(_element: database_clock, compiler: SQLCompiler, **_kw: Any) -> str:
    return _SQLITE_CLOCK if compiler.dialect.name == "sqlite" else _MARIADB_CLOCK


async def database_now(conn: AsyncConnection | AsyncSession, *, precise: bool = False) -> datetime:
    """The database server's current time (naive UTC; whole seconds unless ``precise``)."""
    # On the session's connection, so pending changes are not flushed for the read.
    connection = await conn.connection() if isinstance(conn, AsyncSession) else conn
    value = await connection.scalar(select(database_clock()))
    if not isinstance(value, datetime):
        raise TypeError(f"the database answered its time as {value!r}")
    return value if precise else value.replace(microsecond=0)


async def database_after(conn: AsyncConnection | AsyncSession, seconds: float, *, precise: bool = False) -> datetime:
    """When a lease of ``seconds`` taken now ends, on the database's clock."""
    return await database_now(conn, precise=precise) + timedelta(seconds=seconds)
