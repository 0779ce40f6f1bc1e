"""Refusing writes to a tenant database while it is being moved to another server.

The move copies the database, then freezes the tenant's writes for the final sync: the
tenant's placement carries ``writes_frozen`` (every service learns it with the tenant,
dropped from caches by the tenant event) and the router marks that tenant's sessions
and connections. Every statement runs past :func:`refuse_frozen_writes`, which lets
reads through and refuses anything else with UNAVAILABLE / TENANT_MOVING before it
reaches the server, so the handler's transaction rolls back whole and the caller may
retry once the move has switched the placement. Refusing rather than waiting keeps no
connection held and no write aimed at the old copy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.errors import CommonReason, Unavailable

# Execution option set on a frozen tenant's sessions and connections.
WRITES_FROZEN_OPTION = "tenantmesh_writes_frozen"
# Execution option of sessions on a read replica: a write there is a bug (a read_only RPC that
# writes) and would make the replica diverge, so it is refused before it leaves the process.
REPLICA_OPTION = "tenantmesh_replica"
# Statements that change nothing: what a frozen tenant may still run.
_READING = (
    "select",
    "show",
    "explain",
    "describe",
    "set",
    "use",
    "with",
    "rollback",
    "commit",
    "begin",
    "savepoint",
    "release",
)


def is_read(statement: str) -> bool:
    return statement.lstrip(" \t\r\n(").split(None, 1)[0].lower().startswith(_READING) if statement.strip() else True


def tenant_moving() -> Unavailable:
    return Unavailable(
        "the tenant's database is being moved; writes resume within seconds, retry then",
        reason=CommonReason.TENANT_MOVING,
    )


class ReplicaWriteError(RuntimeError):
    """A statement that writes, sent on a read replica's session."""


def refuse_frozen_writes(conn: Connection, cursor: Any, statement: str, *_args: Any) -> None:
    options = conn.get_execution_options()
    if (options.get(WRITES_FROZEN_OPTION) or options.get(REPLICA_OPTION)) and not is_read(statement):
        if options.get(REPLICA_OPTION):
            raise ReplicaWriteError("a read-only call wrote to a tenant database; declare the RPC without read_only")
        raise tenant_moving()


def guard_engine(engine: AsyncEngine) -> None:
    """Checks every statement of ``engine`` against the frozen mark (a dictionary lookup otherwise)."""
    event.listen(engine.sync_engine, "before_cursor_execute", refuse_frozen_writes)
