"""Files as one piece a service app hosts: the domain, the submission seam, the servicer and the
sweeper, wired from the process's runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.forms.files.attachments import SubmissionFiles
from services.forms.files.files import Files
from services.forms.files.models import CORE_MIGRATIONS
from services.forms.files.servicer import FileServicer
from services.forms.files.settings import load_files_settings
from services.forms.files.sweeper import FileSweeper
from services.runtime.db import upgrade_core
from services.runtime.tenant_directory import TenantDirectory

if TYPE_CHECKING:
    from services.runtime.app import Runtime

# Blobs are kept under the service's name in each tenant's folder.
BLOB_NAMESPACE = "forms"


class FileFeature:
    def __init__(self, runtime: Runtime, tenants: TenantDirectory) -> None:
        self._runtime = runtime
        blobs = self._blobs = runtime.blobs(BLOB_NAMESPACE)
        self.files = Files(runtime.db, blobs, load_files_settings(runtime.settings.environment))
        self.submissions = SubmissionFiles(self.files)
        self.sweeper = FileSweeper(runtime.db, self.files, blobs, tenants)
        self.servicer = FileServicer(self.files)

    async def start(self) -> None:
        await upgrade_core(self._runtime.db, CORE_MIGRATIONS)
        self.sweeper.start()

    async def stop(self) -> None:
        await self.sweeper.stop()

    async def forget_tenant(self, tenant_id: str) -> None:
        """The tenant is being deleted: every file's content, then the sweeper's reminders of it
        (its file rows go with its database). Safe to repeat."""
        await self._blobs.delete_tenant(tenant_id)
        await self.sweeper.forget_tenant(tenant_id)
