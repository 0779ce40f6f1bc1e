"""The forms service as it is served today: its files (FileService).

The form definitions, submissions and their RPCs join this app; SubmitForm and
DeleteSubmission then call ``self.files.submissions`` (services.forms.files.attachments).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.forms.files.feature import TENANT_MIGRATIONS, FileFeature
from services.runtime.service import ServiceApp
from services.runtime.tenant_directory import TenantDirectory

if TYPE_CHECKING:
    from services.runtime.app import Runtime

SERVICE = "forms"


class FormsApp(ServiceApp):
    name = SERVICE
    tenant_migrations = TENANT_MIGRATIONS

    def __init__(self, runtime: Runtime, *, tenants: TenantDirectory | None = None) -> None:
        super().__init__(runtime, tenants=tenants)
        self.files = FileFeature(runtime, self.tenants)

    def servicers(self) -> Sequence[object]:
        return [self.files.servicer]

    async def start(self) -> None:
        await super().start()
        await self.files.start()

    async def stop(self) -> None:
        await self.files.stop()
        await super().stop()
