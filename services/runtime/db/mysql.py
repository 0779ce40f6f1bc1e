"""MySQL/MariaDB: pooled engines per server, and statements that bypass SQLAlchemy's transactions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

from services.runtime.db.liveness import LivenessCheck
from services.runtime.db.placement import quote_database_identifier

_log = logging.getLogger(__name__)

MYSQL_BACKENDS = frozenset({"mysql", "mariadb"})


def create_mysql_engine(
    url: URL, *, pool_size: int, max_overflow: int, echo: bool, isolation_level: str | None = None
) -> AsyncEngine:
    """A pooled engine of one server: checked for liveness on checkout, reset on checkin only when needed.

    ``hide_parameters``: a database error that reaches a log names the statement but never its
    values (password hashes, token digests, user data).
    """
    # Without skip_autocommit_rollback, closing an autocommit connection still sends a
    # ROLLBACK (a round trip) that the server has nothing to do for.
    options: dict[str, Any] = (
        {} if isolation_level is None else {"isolation_level": isolation_level, "skip_autocommit_rollback": True}
    )
    engine = create_async_engine(
        url,
        **options,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # Checked on checkout by LivenessCheck instead of a ping round trip each time.
        pool_pre_ping=False,
        pool_recycle=3600,
        # Reset on return is done by _reset_connection: a rollback only when the
        # server says a transaction is open, not one round trip per checkin.
        pool_reset_on_return=None,
        echo=echo,
        hide_parameters=True,
    )
    LivenessCheck(engine.sync_engine.dialect).listen(engine.sync_engine)
    event.listen(engine.sync_engine, "reset", _reset_connection)
    return engine


def without_database(url: URL) -> URL:
    # URL.set() ignores None values, so clearing a field needs the namedtuple _replace().
    return url._replace(database=None)


def create_database_sql(name: str) -> str:
    return (
        f"CREATE DATABASE IF NOT EXISTS {quote_database_identifier(name)} "
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )


async def restore_database(conn: AsyncConnection, home: str | None) -> None:
    if home is None:
        # MySQL cannot "unselect" a database; a connection without a home database
        # must not go back to the pool carrying the tenant's.
        await conn.invalidate()
        return
    try:
        await conn.rollback()  # a no-op unless the caller left a transaction open
        await execute_outside_transaction(conn, f"USE {quote_database_identifier(home)}")
    except Exception:
        # Swallowed after invalidating: the connection is now harmless, and raising here
        # would mask whatever the caller's block raised.
        _log.warning("could not switch pooled connection back to %s; invalidating it", home, exc_info=True)
        await conn.invalidate()
    except BaseException:
        await conn.invalidate()
        raise


async def execute_outside_transaction(conn: AsyncConnection, sql: str) -> None:
    """MySQL: runs a statement that is never part of a transaction (USE, CREATE/DROP DATABASE).

    Through SQLAlchemy it would begin a transaction on the connection whose only effect is
    a COMMIT or ROLLBACK round trip to end it.
    """
    await execute_on_driver(conn, (sql,))


async def execute_on_driver(conn: AsyncConnection, statements: Sequence[str]) -> None:
    """Runs SQL strings as SQLAlchemy compiles them for this driver, results discarded.

    On MySQL they go to the driver directly: no SQLAlchemy transaction is begun (callers
    that need one have it open already) and none of its per-statement machinery is paid
    for. Errors are wrapped as SQLAlchemy's DBAPIError, as if they had gone through it.
    """
    if conn.dialect.name not in MYSQL_BACKENDS:
        for statement in statements:
            (await conn.exec_driver_sql(statement)).close()
        return
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    dialect = conn.dialect
    statement = ""
    try:
        async with driver.cursor() as cursor:
            for statement in statements:
                # Empty arguments, as SQLAlchemy passes them: the driver's %-formatting turns
                # the compiler's "%%" back into "%".
                await cursor.execute(statement, ())
    except dialect.loaded_dbapi.Error as exc:
        disconnected = dialect.is_disconnect(exc, raw.dbapi_connection, None)
        if disconnected:
            await conn.invalidate(exc)
        raise DBAPIError.instance(
            statement, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=disconnected, dialect=dialect
        ) from exc


def _reset_connection(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """Pool reset on checkin: roll back only if the server reports an open transaction.

    Replaces the pool's unconditional rollback, which costs a round trip for every session
    that has already committed. The driver tracks the server's IN_TRANS status flag from
    every reply and only ever errs towards "in a transaction" (a reply without status
    leaves the last one), so a transaction is never left open on a pooled connection.
    """
    if state.terminate_only or state.transaction_was_reset or not state.asyncio_safe:
        return
    driver = getattr(dbapi_connection, "driver_connection", None)
    in_transaction = getattr(driver, "get_transaction_status", None)
    if in_transaction is not None and not in_transaction():
        return
    dbapi_connection.rollback()
