"""What a migration set's head is, read from its versions folder as Alembic reads it."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from services.runtime.db import MigrationSet


def head_of(migrations: MigrationSet) -> str:
    heads = ScriptDirectory(str(migrations.directory)).get_heads()
    if len(heads) != 1:
        raise ValueError(f"{migrations.service}: expected one head, found {heads}")
    return str(heads[0])
