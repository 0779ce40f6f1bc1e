"""Database failures a caller did not cause, told apart from bugs.

Three kinds reach a handler through SQLAlchemy and are not the caller's input nor a defect:

- the database could not be reached or dropped the connection (server restarting, network,
  pool exhausted): the call may succeed shortly, so UNAVAILABLE, which clients retry;
- two transactions collided (a MariaDB deadlock or lock wait timeout, SQLite's busy
  database): the transaction was rolled back whole, so ABORTED, which AIP-193 reserves for
  concurrency conflicts that a caller retries at the level of the whole request;
- the database has no room to grow (the disk or file system is full, SQLite's SQLITE_FULL, a
  MariaDB table or disk full): RESOURCE_EXHAUSTED, which gRPC names for "the entire file
  system is out of space". Nothing was written (the statement and its transaction were rolled
  back); reads still work, and writes work again once space is freed, so clients are not told
  to retry shortly. Only this database is affected: other tenants' files are untouched.

Anything else from the database stays a bug (INTERNAL, logged with its traceback).
"""

from __future__ import annotations

import sqlite3

import grpc
from sqlalchemy import exc as sa_exc

from services.runtime.errors import CommonReason, ErrorDescription

# MySQL/MariaDB client and server error numbers of a connection that is not there (any more).
_CONNECTION_LOST = frozenset(
    {
        1040,  # too many connections
        1053,  # server shutdown in progress
        1927,  # connection was killed
        2002,  # can't connect through the socket
        2003,  # can't connect to the server
        2006,  # server has gone away
        2013,  # lost connection during query
        2055,  # lost connection at handshake
        4031,  # disconnected by the server for inactivity
    }
)
# Transactions that collided: the server rolled this one back.
_COLLIDED = frozenset({1205, 1213})  # lock wait timeout, deadlock
_SQLITE_BUSY = ("database is locked", "database table is locked")
# No room to write: the table full (1114, also InnoDB's answer to a full disk), the disk full (1021).
_STORAGE_FULL = frozenset({1021, 1114})

_RETRY_SHORTLY_SECONDS = 1.0


def database_failure(exc: BaseException) -> ErrorDescription | None:
    """How to answer ``exc`` when it is a database failure of the kinds above, else None."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection free within the pool's timeout
        return _unavailable()
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return _unavailable()
    number = _error_number(exc.orig)
    if number in _CONNECTION_LOST:
        return _unavailable()
    if number in _STORAGE_FULL or _sqlite_full(exc.orig):
        return ErrorDescription(
            code=grpc.StatusCode.RESOURCE_EXHAUSTED,
            reason=CommonReason.STORAGE_FULL,
            message="the tenant's database has no space left; nothing was written. Reads still work",
        )
    if number in _COLLIDED or any(text in str(exc.orig) for text in _SQLITE_BUSY):
        return ErrorDescription(
            code=grpc.StatusCode.ABORTED,
            reason=CommonReason.TRANSACTION_CONFLICT,
            message="this call collided with a concurrent one and changed nothing; retry it",
            retry_after=0.1,
        )
    return None


def _unavailable() -> ErrorDescription:
    return ErrorDescription(
        code=grpc.StatusCode.UNAVAILABLE,
        reason=CommonReason.DATABASE_UNAVAILABLE,
        message="the database is unavailable; try again shortly",
        retry_after=_RETRY_SHORTLY_SECONDS,
    )


def _error_number(orig: BaseException | None) -> int | None:
    # The MySQL drivers put the server's error number first in args.
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _sqlite_full(orig: BaseException | None) -> bool:
    # SQLITE_FULL (extended codes keep it in their low byte): the disk, or the file's page limit.
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_FULL
