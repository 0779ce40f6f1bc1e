"""Limits on how many rows a tenant may have, checked so that concurrent writes cannot pass them.

A limit is counted after the insert, with a locking read, in the inserting transaction: two
creates cannot both see room for one more. On SQLite the insert takes the database's write lock
first; on MariaDB the count waits for the other's uncommitted row (a deadlock victim gets
ABORTED, which a client retries).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def read_after_insert(session: AsyncSession, query: Select[T]) -> list[T]:
    """What ``query`` reads, the session's pending inserts included, with a lock (the caller
    checks it against its limit, then commits or raises)."""
    await session.flush()
    return list(await session.scalars(query.with_for_update()))


async def count_after_insert(session: AsyncSession, model: type[Any], *where: ColumnElement[bool]) -> int:
    """The rows of ``model`` matching ``where``, counted as :func:`read_after_insert` reads."""
    (count,) = await read_after_insert(session, select(func.count()).select_from(model).where(*where))
    return count
