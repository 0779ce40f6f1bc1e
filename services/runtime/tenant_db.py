"""The current call's tenant database, and its placement on the wire.

A tenant-scoped handler reads and writes its tenant's data through these
helpers: the runtime has already checked that the caller may act on the tenant
and set it in the call context, so the handler never names a database itself.
Changes that must be announced go through the unit of work instead
(``UnitOfWork.tenant()``), which opens the same session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from tenantmesh.type.v1 import database_pb2

from services.runtime.context import current_tenant, principal_var
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.db.replica_reads import read_only_call


def current_database() -> TenantDatabase:
    """Where the current call's tenant keeps its data."""
    return current_tenant().database


def tenant_session(router: DatabaseRouter) -> AbstractAsyncContextManager[AsyncSession]:
    """An ORM session on the current call's tenant database (commit is the caller's job).

    In a ``read_only`` RPC it may be on the tenant server's read replica; in any other it is on
    the primary, and the caller reads from the primary for a while afterwards (it may have
    written: see services.runtime.db.replica_reads).
    """
    db = current_database()
    if read_only_call.get():
        return router.tenant_read_session(db, current_caller())
    return _pinning(router, db)


def current_caller() -> str:
    """Whom read-your-writes is kept for: the calling principal ("" for internal work)."""
    principal = principal_var.get()
    return principal.subject if principal is not None else ""


async def pin_to_primary(router: DatabaseRouter, db: TenantDatabase) -> None:
    """The current caller reads ``db`` from its primary for a while (it just wrote to it)."""
    if router.has_replica(db):
        await router.primary_pins.pin(db.server, db.name, current_caller())


@asynccontextmanager
async def _pinning(router: DatabaseRouter, db: TenantDatabase) -> AsyncIterator[AsyncSession]:
    async with router.tenant_session(db) as session:
        yield session
    await pin_to_primary(router, db)


def tenant_connection(router: DatabaseRouter) -> AbstractAsyncContextManager[AsyncConnection]:
    """A raw connection whose current database is the current call's tenant's."""
    return router.tenant_connection(current_database())


def placement_from_proto(placement: database_pb2.DatabasePlacement) -> TenantDatabase:
    """Raises ValueError for a name outside the whitelist (see TenantDatabase)."""
    return TenantDatabase(server=placement.server, name=placement.database, writes_frozen=placement.writes_frozen)


def placement_to_proto(db: TenantDatabase) -> database_pb2.DatabasePlacement:
    return database_pb2.DatabasePlacement(server=db.server, database=db.name, writes_frozen=db.writes_frozen)
