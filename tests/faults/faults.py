"""The faults themselves: each breaks one thing the platform depends on, and only the test's own."""

from __future__ import annotations

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


async def platform_connections(database_url: str, tenant_db_prefix: str) -> list[int]:
    """Ids of the server connections the platform's processes hold: on its core database or
    one of its tenant databases (the connection this asks on is on neither)."""
    engine = create_async_engine(make_url(database_url)._replace(database=None), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT ID FROM information_schema.PROCESSLIST"
                    " WHERE (DB = :core OR DB LIKE :tenants) AND ID <> CONNECTION_ID()"
                ),
                {"core": make_url(database_url).database, "tenants": tenant_db_prefix.replace("_", "\\_") + "%"},
            )
            return [int(row.ID) for row in rows]
    finally:
        await engine.dispose()


async def kill_platform_connections(database_url: str, tenant_db_prefix: str) -> int:
    """KILLs every connection of the platform from a separate administrative connection, as a
    server restart or a failover would drop them; the server itself keeps running for everyone
    else. Returns how many were killed."""
    ids = await platform_connections(database_url, tenant_db_prefix)
    engine = create_async_engine(make_url(database_url)._replace(database=None), poolclass=NullPool)
    killed = 0
    try:
        async with engine.connect() as conn:
            for connection_id in ids:
                try:
                    await conn.exec_driver_sql(f"KILL CONNECTION {connection_id}")
                    killed += 1
                except Exception as exc:  # gone meanwhile (1094 unknown thread id)
                    if "1094" not in str(exc):
                        raise
    finally:
        await engine.dispose()
    return killed
