"""Wiring of the forms service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from services.forms.answers import VersionCache
from services.forms.export import Exporter
from services.forms.files.feature import FileFeature
from services.forms.forms import Forms
from services.forms.heads import FormHeads
from services.forms.installer import GROUP, ServiceFormsInstaller
from services.forms.servicers import FormServicer, SubmissionServicer
from services.forms.submissions import Submissions
from services.runtime.db import MigrationSet, TenantDatabase
from services.runtime.service import ServiceApp
from services.runtime.tenant_directory import TenantDirectory

if TYPE_CHECKING:
    from services.runtime.app import Runtime

SERVICE = "forms"


class FormsApp(ServiceApp):
    name = SERVICE
    tenant_migrations = MigrationSet(SERVICE, "tenant", Path(__file__).parent / "migrations" / "tenant")
    tenant_events = True

    def __init__(self, runtime: Runtime, *, tenants: TenantDirectory | None = None) -> None:
        super().__init__(runtime, tenants=tenants)
        # Uploads that answer FILE fields, and where submissions check and release them.
        self.files = FileFeature(runtime, self.tenants)
        # Heads of forms that validations read recently; other replicas' form events drop them.
        self.heads = FormHeads()
        self.heads.subscribe(runtime.events)
        self.forms = Forms(runtime.db, runtime.unit_of_work(SERVICE), self.heads, self.files.submissions)
        installer = ServiceFormsInstaller(self.forms, self.tenants, runtime.channel("registry"), runtime.credentials)
        # Once per event across replicas: installing writes to the tenant's database.
        runtime.events.subscribe_group(GROUP, "tenant_service.", installer.on_event)

    def servicers(self) -> Sequence[object]:
        work = self.runtime.unit_of_work(SERVICE)
        cache = VersionCache()
        return [
            FormServicer(self.forms),
            SubmissionServicer(
                Submissions(self.runtime.db, work, self.files.submissions, cache, self.heads),
                Exporter(self.runtime.db, cache),
            ),
            self.files.servicer,
        ]

    async def start(self) -> None:
        await super().start()
        await self.files.start()

    async def deprovision(self, tenant_id: str, db: TenantDatabase) -> None:
        await self.files.forget_tenant(tenant_id)

    async def stop(self) -> None:
        await self.files.stop()
        await super().stop()
