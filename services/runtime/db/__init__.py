"""Database layer of the shared runtime: placement, engine routing and per-service migrations."""

from services.runtime.db.clock import LeaseClock, database_after, database_clock, database_now
from services.runtime.db.locks import LockTimeout, named_lock
from services.runtime.db.migrations import (
    MigrationSet,
    TenantSchemaHook,
    current_revision,
    upgrade_core,
    upgrade_tenant,
)
from services.runtime.db.placement import TenantDatabase, quote_database_identifier, tenant_database_name
from services.runtime.db.router import DatabaseRouter, core_router_of

__all__ = [
    "DatabaseRouter",
    "LeaseClock",
    "LockTimeout",
    "MigrationSet",
    "TenantDatabase",
    "TenantSchemaHook",
    "core_router_of",
    "current_revision",
    "database_after",
    "database_clock",
    "database_now",
    "named_lock",
    "quote_database_identifier",
    "tenant_database_name",
    "upgrade_core",
    "upgrade_tenant",
]
