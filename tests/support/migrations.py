"""Migration helpers for tests: a set's head as Alembic reads it, and the runner's online path."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory

from services.runtime.db import MigrationSet
from services.runtime.db import migrations as runner


def head_of(migrations: MigrationSet) -> str:
    heads = ScriptDirectory(str(migrations.directory)).get_heads()
    if len(heads) != 1:
        raise ValueError(f"{migrations.service}: expected one head, found {heads}")
    return str(heads[0])


def run_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the runner upgrade with Alembic online, as it does a revision not declared
    offline-safe (and forget every plan it rendered before)."""
    monkeypatch.setattr(runner, "_SCRIPTS", {})
    monkeypatch.setattr(runner, "_offline_safe", lambda _loaded, _heads: False)
