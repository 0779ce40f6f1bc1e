"""What a revision file uses so that a re-run finishes a revision that was cut part way.

MariaDB commits every DDL statement on its own, so a process dying in the middle of a
revision leaves some of its tables, indexes or columns in place and the version unrecorded;
the re-run starts that revision again from its first operation. Each operation therefore
says ``if_not_exists=True`` / ``if_exists=True`` (tests/unit/test_migration_histories.py
checks every history). SQLite runs each upgrade in one transaction (see migrations.py), so
a cut there leaves nothing behind.
"""

from __future__ import annotations

from alembic import op

__all__ = ["column_guard"]


def column_guard() -> bool:
    """``if_not_exists`` for ``op.add_column`` and ``if_exists`` for ``op.drop_column``.

    MariaDB has ``ADD COLUMN IF NOT EXISTS``; SQLite has no such clause, and needs none
    since its upgrades are transactional.
    """
    return op.get_context().dialect.name != "sqlite"
