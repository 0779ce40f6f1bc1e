"""Limits on how many rows a tenant may have, checked so that concurrent writes cannot pass them.

A limit is counted after the insert, with a locking read, in the inserting transaction: two
creates cannot both see room for one more. On SQLite the insert takes the database's write lock
first; on MariaDB the count waits for the other's uncommitted row (a deadlock victim gets
ABORTED, which a client retries).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def count_after_insert(session: AsyncSession, model: type[Any], *where: ColumnElement[bool]) -> int:
    """The rows of ``model`` matching ``where``, the session's pending inserts included, read
    with a lock (the caller compares it with its limit, then commits or raises)."""
    await session.flush()
    return await session.scalar(select(func.count()).select_from(model).where(*where).with_for_update()) or 0
