"""Wiring of the notes service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.runtime.db import MigrationSet
from services.runtime.service import ServiceApp
from tests.sample.notes import Notes
from tests.sample.servicer import NoteServicer

SERVICE = "notes"


class NotesApp(ServiceApp):
    name = SERVICE
    tenant_migrations = MigrationSet(SERVICE, "tenant", Path(__file__).parent / "migrations" / "tenant")
    tenant_events = True

    def servicers(self) -> Sequence[object]:
        return [NoteServicer(Notes(self.runtime.db, self.runtime.unit_of_work(SERVICE)))]
