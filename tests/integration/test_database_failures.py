"""Database failures a caller did not cause are answered as such, from real database errors:
colliding transactions as ABORTED (a MariaDB deadlock, a busy SQLite database), an unreachable
server as UNAVAILABLE; any other database error stays a bug (not classified)."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from services.runtime.db.failures import database_failure
from services.runtime.errors import CommonReason
from services.runtime.interceptors.error_mapping import error_for
from tests.conftest import mysql_execute


async def _collide_on_mysql(url: str) -> BaseException:
    """Two transactions that each hold a row the other wants: the server rolls one back (1213)."""
    await mysql_execute(make_url(url), f"CREATE DATABASE IF NOT EXISTS `{make_url(url).database}`")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE pair (id INT PRIMARY KEY, v INT)")
            await conn.exec_driver_sql("INSERT INTO pair VALUES (1, 0), (2, 0)")
        both_hold = asyncio.Barrier(2)

        async def take(first: int, second: int) -> None:
            async with engine.begin() as conn:
                await conn.exec_driver_sql(f"UPDATE pair SET v = v + 1 WHERE id = {first}")
                await both_hold.wait()
                await conn.exec_driver_sql(f"UPDATE pair SET v = v + 1 WHERE id = {second}")

        results = await asyncio.gather(take(1, 2), take(2, 1), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(failures) == 1, results
        return failures[0]
    finally:
        await engine.dispose()


async def _collide_on_sqlite(url: str) -> BaseException:
    """A writer while another holds the database's write lock, with no wait allowed."""
    engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 0})
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE pair (id INTEGER PRIMARY KEY, v INTEGER)")
        holder: AsyncConnection = await engine.connect()
        try:
            await holder.exec_driver_sql("INSERT INTO pair VALUES (1, 0)")  # opens a write transaction
            with pytest.raises(sa_exc.OperationalError) as raised:
                async with engine.begin() as conn:
                    await conn.exec_driver_sql("INSERT INTO pair VALUES (2, 0)")
            return raised.value
        finally:
            await holder.rollback()
            await holder.close()
    finally:
        await engine.dispose()


async def test_colliding_transactions_are_aborted_for_a_retry(db_backend_url: str) -> None:
    if db_backend_url.startswith("sqlite"):
        error = await _collide_on_sqlite(db_backend_url)
    else:
        error = await _collide_on_mysql(db_backend_url)
    answer = database_failure(error)
    assert answer is not None, repr(error)
    assert answer.code == grpc.StatusCode.ABORTED
    assert answer.reason is CommonReason.TRANSACTION_CONFLICT
    assert "retry" in answer.message
    # Every RPC's error boundary answers it so (not INTERNAL).
    assert error_for(error, "/test.v1.Test/Write") == answer


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_database_is_unavailable() -> None:
    url = make_url(f"mysql+asyncmy://root@127.0.0.1:{_closed_port()}/nothing")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        with pytest.raises(sa_exc.OperationalError) as raised:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
    finally:
        await engine.dispose()
    answer = database_failure(raised.value)
    assert answer is not None
    assert answer.code == grpc.StatusCode.UNAVAILABLE
    assert answer.reason is CommonReason.DATABASE_UNAVAILABLE
    assert answer.retry_after is not None


async def test_other_database_errors_stay_bugs(db_backend_url: str) -> None:
    engine = create_async_engine(db_backend_url, poolclass=NullPool)
    try:
        with pytest.raises(sa_exc.DBAPIError) as raised:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT * FROM no_such_table")
    finally:
        await engine.dispose()
    assert database_failure(raised.value) is None
    assert database_failure(ValueError("not a database error")) is None


async def _fill_up(url: str) -> BaseException:
    """Writes until the database has no room: SQLite at its page limit (as on a full disk),
    a MariaDB MEMORY table at its size limit (1114, what InnoDB also answers on a full disk)."""
    sqlite = url.startswith("sqlite")
    if not sqlite:
        await mysql_execute(make_url(url), f"CREATE DATABASE IF NOT EXISTS `{make_url(url).database}`")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            if sqlite:
                await conn.exec_driver_sql("CREATE TABLE filler (v TEXT)")
                await conn.commit()
                await conn.exec_driver_sql("PRAGMA max_page_count = 1")  # no page beyond the current ones
            else:
                await conn.exec_driver_sql("SET SESSION max_heap_table_size = 16384")
                await conn.exec_driver_sql("CREATE TABLE filler (v VARCHAR(255)) ENGINE=MEMORY")
            for _ in range(10_000):
                try:
                    await conn.exec_driver_sql("INSERT INTO filler VALUES ('" + "x" * 250 + "')")
                except sa_exc.OperationalError as full:
                    return full
            raise AssertionError("10 000 rows fitted: the database never filled up")
    finally:
        await engine.dispose()


async def test_a_full_database_is_resource_exhausted(db_backend_url: str) -> None:
    error = await _fill_up(db_backend_url)
    answer = database_failure(error)
    assert answer is not None, repr(error)
    assert answer.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert answer.reason is CommonReason.STORAGE_FULL
    assert error_for(error, "/test.v1.Test/Write") == answer
