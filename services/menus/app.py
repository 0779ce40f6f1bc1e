"""Wiring of the menus service."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from services.menus.admin import MenuAdmin
from services.menus.menus import MenuBook
from services.menus.people import People
from services.menus.platform_entries import platform_entries
from services.menus.servicer import MenuServicer
from services.menus.sources import FormCatalogue, FormContributions, NoForms, RegistryContributions
from services.menus.store import MenuStore
from services.runtime.context import PLATFORM_TENANT_SLUG
from services.runtime.db import MigrationSet, TenantDatabase, tenant_database_name, upgrade_tenant
from services.runtime.outbox import TENANT_OUTBOX_MIGRATIONS
from services.runtime.service import ServiceApp
from services.runtime.tenant_directory import TenantDirectory

if TYPE_CHECKING:
    from services.runtime.app import Runtime

SERVICE = "menus"
log = logging.getLogger("tenantmesh.menus")


class MenusApp(ServiceApp):
    name = SERVICE
    tenant_migrations = MigrationSet(SERVICE, "tenant", Path(__file__).parent / "migrations" / "tenant")
    tenant_events = True

    def __init__(
        self, runtime: Runtime, *, tenants: TenantDirectory | None = None, forms: FormCatalogue | None = None
    ) -> None:
        super().__init__(runtime, tenants=tenants)
        registry = RegistryContributions(lambda: runtime.channel("registry"), runtime.credentials)
        self.book = MenuBook(
            MenuStore(runtime.db, runtime.unit_of_work(SERVICE)),
            platform_entries(runtime.settings.manifest.api_services()),
            (registry, FormContributions(forms or NoForms())),
        )
        self.book.subscribe(runtime.events)
        self.admin = MenuAdmin(self.book, People(lambda: runtime.channel("auth"), runtime.credentials))

    def servicers(self) -> Sequence[object]:
        return [MenuServicer(self.book, self.admin)]

    async def start(self) -> None:
        await super().start()
        await self._migrate_platform_tenant()

    async def _migrate_platform_tenant(self) -> None:
        """Platform administrators have menus too, but the platform tenant is made before this service
        runs (by the tenants service, with its own schema only): bring ours to head there, as
        provisioning does for every other tenant. Idempotent."""
        settings = self.runtime.settings
        placement = TenantDatabase(
            settings.database.default_tenant_server,
            tenant_database_name(PLATFORM_TENANT_SLUG, self.runtime.db.tenant_db_prefix),
        )
        if not await self.runtime.db.tenant_database_exists(placement):
            log.warning("the platform tenant's database does not exist yet; run tenantctl migrate once it does")
            return
        await upgrade_tenant(self.runtime.db, placement, TENANT_OUTBOX_MIGRATIONS)
        await upgrade_tenant(self.runtime.db, placement, self.tenant_migrations)
