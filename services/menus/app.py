"""Wiring of the menus service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from services.menus.admin import MenuAdmin
from services.menus.menus import MenuBook
from services.menus.people import People
from services.menus.platform_entries import platform_entries
from services.menus.servicer import MenuServicer
from services.menus.sources import FormCatalogue, FormContributions, FormsService, RegistryContributions
from services.menus.store import MenuStore
from services.runtime.db import MigrationSet
from services.runtime.service import ServiceApp
from services.runtime.tenant_directory import TenantDirectory

if TYPE_CHECKING:
    from services.runtime.app import Runtime

SERVICE = "menus"


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
            (registry, FormContributions(forms or FormsService(lambda: runtime.channel("forms"), runtime.credentials))),
        )
        self.book.subscribe(runtime.events)
        self.admin = MenuAdmin(self.book, People(lambda: runtime.channel("auth"), runtime.credentials))

    def servicers(self) -> Sequence[object]:
        return [MenuServicer(self.book, self.admin)]
