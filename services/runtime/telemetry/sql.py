"""SQL spans name the database a statement really ran in.

The SQLAlchemy instrumentation takes the database name from the engine's URL. On MySQL one
engine serves every tenant database of a server (tenant sessions route with a schema
translation), so the URL names the core database or none; on SQLite the URL is a file path.
This listener, registered after the instrumentation's, corrects ``db.name`` / ``db.namespace``
on the span it just started.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.db.router import CURRENT_DATABASE_INFO

# Where the instrumentation keeps the span of the statement being executed (its own listener
# sets it just before ours runs; it has no public hook for extra attributes).
_SPAN_ATTRIBUTE = "_otel_span"


def database_name(conn: Connection, context: Any) -> str | None:
    translate = (context.execution_options or {}).get("schema_translate_map") or {}
    routed = translate.get(None) or conn.info.get(CURRENT_DATABASE_INFO)
    if routed:
        return str(routed)
    database = conn.engine.url.database
    if not database:
        return None
    if conn.engine.dialect.name == "sqlite":
        # "file:/…/tenant_acme.db" or a plain path: the file's stem is the database's name.
        return PurePath(database.removeprefix("file:").split("?", 1)[0]).stem
    return database


def _name_database(
    conn: Connection, cursor: Any, statement: str, params: Any, context: Any, _executemany: bool
) -> None:
    span = getattr(context, _SPAN_ATTRIBUTE, None)
    if span is None or not span.is_recording():
        return
    name = database_name(conn, context)
    if name:
        span.set_attribute("db.name", name)
        span.set_attribute("db.namespace", name)
        # "SELECT tenant_acme", not "SELECT /srv/…/tenant_acme.db" (the instrumentation's name).
        operation = statement.split(None, 1)[0].upper() if statement.strip() else "SQL"
        span.update_name(f"{operation} {name}")


def record_database_name(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "before_cursor_execute", _name_database)
