"""One statement that inserts rows or updates the ones already there, in either dialect.

MariaDB says ``INSERT … ON DUPLICATE KEY UPDATE``, SQLite ``INSERT … ON CONFLICT (key) DO
UPDATE``; the columns set on a conflict are given once, as expressions of the row proposed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects import mysql, sqlite

# Given the proposed row's columns (MariaDB's ``inserted``, SQLite's ``excluded``), the values a
# conflicting row is set to.
OnConflict = Callable[[Any], Mapping[str, Any]]


def upsert(
    dialect: str,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    on_conflict: OnConflict,
) -> Executable:
    """Inserts ``rows`` into ``model``'s table; a row whose ``key`` exists is updated by
    ``on_conflict`` instead. ``key`` is the unique key SQLite must be told (MariaDB finds it)."""
    values = [dict(row) for row in rows]
    if dialect == "mysql":
        statement = mysql.insert(model).values(values)
        return statement.on_duplicate_key_update(dict(on_conflict(statement.inserted)))
    lite = sqlite.insert(model).values(values)
    return lite.on_conflict_do_update(index_elements=list(key), set_=dict(on_conflict(lite.excluded)))
