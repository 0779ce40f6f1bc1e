"""Wiring of the forms service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.forms.answers import VersionCache
from services.forms.export import Exporter
from services.forms.files import FileReferences, NoFileStore
from services.forms.forms import Forms
from services.forms.servicers import FormServicer, SubmissionServicer
from services.forms.submissions import Submissions
from services.runtime.db import MigrationSet
from services.runtime.service import ServiceApp

SERVICE = "forms"


class FormsApp(ServiceApp):
    name = SERVICE
    tenant_migrations = MigrationSet(SERVICE, "tenant", Path(__file__).parent / "migrations" / "tenant")
    tenant_events = True
    # Where file answers are checked (services/forms/files.py): a file store replaces this.
    files: FileReferences = NoFileStore()

    def servicers(self) -> Sequence[object]:
        work = self.runtime.unit_of_work(SERVICE)
        cache = VersionCache()
        return [
            FormServicer(Forms(self.runtime.db, work)),
            SubmissionServicer(Submissions(self.runtime.db, work, self.files, cache), Exporter(self.runtime.db, cache)),
        ]
