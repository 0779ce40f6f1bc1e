"""Binary columns that hold more than MySQL's and MariaDB's BLOB (64 KiB); elsewhere a binary
column has no such bound."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

_MYSQL = ("mysql", "mariadb")

LONG_BINARY = sa.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL)


def widen_to_long_binary(table: str, column: str) -> None:
    """In a migration: ``column`` of ``table`` (a non-null BLOB) becomes a LONGBLOB on MySQL and
    MariaDB. Idempotent, so a migration resumed after a crash runs it again safely."""
    if op.get_context().dialect.name in _MYSQL:
        op.alter_column(table, column, existing_type=sa.LargeBinary(), type_=mysql.LONGBLOB(), existing_nullable=False)
