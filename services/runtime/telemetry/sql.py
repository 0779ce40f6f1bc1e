"""SQL spans name the database a statement really ran in.

The SQLAlchemy instrumentation takes the database name from the engine's URL. On MySQL one
engine serves every tenant database of a server (tenant sessions route with a schema
translation), so the URL names the core database or none; on SQLite the URL is a file path.
This listener, registered after the instrumentation's, corrects ``db.name`` / ``db.namespace``
on the span it just started.

A statement that fails is an error described by its exception's class name (``IntegrityError``):
a listener registered before the instrumentation's says so (the instrumentation's ends the span);
the instrumentation's own description, ``str(exception)``, quotes the statement's values on
MariaDB and is dropped by the span (lean_spans.py).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.db.router import CURRENT_DATABASE_INFO
from services.runtime.telemetry.lean_spans import mark_error

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


def _name_error(context: ExceptionContext) -> None:
    span = getattr(context.execution_context, _SPAN_ATTRIBUTE, None)
    if span is not None:
        mark_error(span, context.original_exception)


def record_error_class(engine: AsyncEngine) -> None:
    """Call before the instrumentation is attached: ``handle_error`` is a dialect event, whose
    listeners run in the order they were registered (it ignores ``insert=True``)."""
    event.listen(engine.sync_engine, "handle_error", _name_error)


def record_database_name(engine: AsyncEngine) -> None:
    """Call after the instrumentation is attached (its listener opens the span this one names)."""
    event.listen(engine.sync_engine, "before_cursor_execute", _name_database)
