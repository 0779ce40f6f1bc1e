"""A database router on the test's backend with the core tables some migration sets make."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from services.runtime.db import DatabaseRouter, MigrationSet, upgrade_core


@contextlib.asynccontextmanager
async def migrated_router(
    url: str, sqlite_dir: Path | None, *migrations: MigrationSet
) -> AsyncIterator[DatabaseRouter]:
    """Started, with ``migrations`` applied to the core database; disposed on exit."""
    db = DatabaseRouter(url, sqlite_dir=sqlite_dir)
    await db.start()
    try:
        for migration_set in migrations:
            await upgrade_core(db, migration_set)
        yield db
    finally:
        await db.dispose()
