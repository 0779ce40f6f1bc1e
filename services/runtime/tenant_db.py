"""The current call's tenant database, and its placement on the wire.

A tenant-scoped handler reads and writes its tenant's data through these
helpers: the runtime has already checked that the caller may act on the tenant
and set it in the call context, so the handler never names a database itself.
Changes that must be announced go through the unit of work instead
(``UnitOfWork.tenant()``), which opens the same session.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from tenantmesh.type.v1 import database_pb2

from services.runtime.context import current_tenant
from services.runtime.db import DatabaseRouter, TenantDatabase


def current_database() -> TenantDatabase:
    """Where the current call's tenant keeps its data."""
    return current_tenant().database


def tenant_session(router: DatabaseRouter) -> AbstractAsyncContextManager[AsyncSession]:
    """An ORM session on the current call's tenant database (commit is the caller's job)."""
    return router.tenant_session(current_database())


def tenant_connection(router: DatabaseRouter) -> AbstractAsyncContextManager[AsyncConnection]:
    """A raw connection whose current database is the current call's tenant's."""
    return router.tenant_connection(current_database())


def placement_from_proto(placement: database_pb2.DatabasePlacement) -> TenantDatabase:
    """Raises ValueError for a name outside the whitelist (see TenantDatabase)."""
    return TenantDatabase(server=placement.server, name=placement.database, writes_frozen=placement.writes_frozen)


def placement_to_proto(db: TenantDatabase) -> database_pb2.DatabasePlacement:
    return database_pb2.DatabasePlacement(server=db.server, database=db.name, writes_frozen=db.writes_frozen)
