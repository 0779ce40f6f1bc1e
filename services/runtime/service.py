"""The base of every service app: a platform service as the runtime hosts it.

A service app says what it serves and what it owns; the base does the rest the
same way for every service: its tenant directory (the tenants service's
answers, cached and dropped by tenant events), its gRPC bindings (each servicer
bound through its generated class), the tenant lifecycle API when it keeps
data in tenant databases, and its core migrations at start::

    class NotesApp(ServiceApp):
        name = "notes"
        core_migrations = None
        tenant_migrations = MigrationSet(service="notes", scope="tenant", directory=...)

        def servicers(self) -> Sequence[object]:
            return [NoteServicer(Notes(self.runtime.unit_of_work(self.name)))]

The manifest (services/manifest.py) names the app class; the mesh constructs it
with the process's Runtime and starts it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from services.runtime.context import PLATFORM_TENANT_ID, PLATFORM_TENANT_SLUG
from services.runtime.db import MigrationSet, TenantDatabase, tenant_database_name, upgrade_core
from services.runtime.lifecycle import SchemaLifecycleServicer
from services.runtime.server import ServiceBinding, bind
from services.runtime.tenant_directory import TenantDirectory

if TYPE_CHECKING:
    from services.runtime.app import Runtime

log = logging.getLogger("tenantmesh.service")


class ServiceApp:
    # The service's name in the manifest.
    name: str
    # Migrations of its tables in the core database, run at start.
    core_migrations: ClassVar[MigrationSet | None] = None
    # Migrations of its tables in every tenant database: the service takes part in tenant
    # provisioning (it must then be tenant_scoped in the manifest).
    tenant_migrations: MigrationSet | None = None
    # It announces changes to tenant data (UnitOfWork.tenant()): tenant databases get an outbox.
    tenant_events: ClassVar[bool] = False
    # Brings its tenant schema to head in the platform tenant at start (see migrate_platform_tenant).
    platform_tenant_schema: ClassVar[bool] = True

    def __init__(self, runtime: Runtime, *, tenants: TenantDirectory | None = None) -> None:
        """``tenants``: where tenants are looked up, when not at the tenants service."""
        self.runtime = runtime
        self.tenants = runtime.tenant_directory(tenants)

    def servicers(self) -> Sequence[object]:
        """The service's gRPC servicers (instances of subclasses of generated servicer classes)."""
        return ()

    def lifecycle(self) -> SchemaLifecycleServicer | None:
        """The tenant lifecycle API of a service with tenant migrations."""
        if self.tenant_migrations is None:
            return None
        return SchemaLifecycleServicer(
            self.name,
            self.runtime.db,
            self.tenant_migrations,
            tenant_events=self.tenant_events,
            on_deprovision=self.deprovision,
        )

    async def deprovision(self, tenant_id: str, db: TenantDatabase) -> None:
        """The tenant is being deleted: remove what the service keeps for it outside its tenant
        database (which the tenants service drops), e.g. blobs. Must be safe to repeat."""
        return

    def bindings(self) -> Sequence[ServiceBinding]:
        found = [bind(servicer) for servicer in self.servicers()]
        lifecycle = self.lifecycle()
        if lifecycle is not None:
            found.append(bind(lifecycle))
        return found

    def tenant_directory(self) -> TenantDirectory:
        return self.tenants

    async def start(self) -> None:
        if self.core_migrations is not None:
            await upgrade_core(self.runtime.db, self.core_migrations)
        lifecycle = self.lifecycle()
        if lifecycle is not None and self.platform_tenant_schema:
            await self.migrate_platform_tenant(lifecycle)

    async def migrate_platform_tenant(self, lifecycle: SchemaLifecycleServicer) -> None:
        """Platform administrators use tenant-scoped services too (their menu, forms), but the platform
        tenant is made by the tenants service before the others run, with its schema only: each
        service brings its own to head there when it starts, as provisioning does for every other
        tenant (through the same lifecycle servicer, hooks included). Idempotent; skipped while the
        platform tenant's database does not exist yet."""
        settings = self.runtime.settings
        placement = TenantDatabase(
            settings.database.default_tenant_server,
            tenant_database_name(PLATFORM_TENANT_SLUG, self.runtime.db.tenant_db_prefix),
        )
        if not await self.runtime.db.tenant_database_exists(placement):
            log.warning("%s: the platform tenant's database does not exist yet (tenantctl migrate adds it)", self.name)
            return
        await lifecycle.provision(PLATFORM_TENANT_ID, placement)

    async def stop(self) -> None:
        return None
