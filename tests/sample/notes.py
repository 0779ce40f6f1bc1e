"""Notes: the domain behind NoteService's handlers.

Every operation acts on the current call's tenant (set and checked by the
runtime), in that tenant's database; changes commit with their events through
the unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import auto

from sqlalchemy import select
from tenantmesh.notes.v1 import note_service_pb2 as pb

from services.runtime.clock import utcnow
from services.runtime.context import current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.errors import NotFound, Reason
from services.runtime.events import Event
from services.runtime.ids import uuid7
from services.runtime.paging import Page, page_of, page_request
from services.runtime.proto_values import copy_fields
from services.runtime.resources import bump_revision, check_etag, check_update_mask, stamps
from services.runtime.tenant_db import tenant_session
from services.runtime.unit_of_work import UnitOfWork
from tests.sample.models import NoteRow

UPDATABLE_FIELDS = ("title", "text")
NOTE_CREATED = "note.created"
NOTE_UPDATED = "note.updated"


class NotesReason(Reason):
    NOTE_NOT_FOUND = auto()


def note_to_proto(row: NoteRow) -> pb.Note:
    return pb.Note(**copy_fields(row, "note_id", "title", "text"), **stamps(row))


def _changed(kind: str, row: NoteRow) -> Event:
    return Event(kind, current_tenant().tenant_id, note_to_proto(row))


class Notes:
    def __init__(self, db: DatabaseRouter, work: UnitOfWork) -> None:
        self._db = db
        self._work = work

    async def create(self, title: str, text: str) -> NoteRow:
        now = utcnow()
        row = NoteRow(note_id=uuid7(), title=title, text=text, revision=1, create_time=now, update_time=now)
        async with self._work.tenant() as work:
            work.session.add(row)
            work.emit(_changed(NOTE_CREATED, row))
        return row

    async def get(self, note_id: str) -> NoteRow:
        async with tenant_session(self._db) as session:
            row = await session.get(NoteRow, note_id)
        if row is None:
            raise NotFound("no such note", reason=NotesReason.NOTE_NOT_FOUND)
        return row

    async def list(self, page_size: int, page_token: str) -> Page[NoteRow]:
        page, marker = page_request(page_size, page_token, "notes")
        query = select(NoteRow).order_by(NoteRow.note_id).limit(page.limit)
        if page.after is not None:
            query = query.where(NoteRow.note_id > page.after)
        async with tenant_session(self._db) as session:
            rows = list((await session.execute(query)).scalars())
        return page_of(rows, page, marker, lambda row: row.note_id)

    async def update(self, note_id: str, etag: str, mask: Sequence[str], title: str, text: str) -> NoteRow:
        check_update_mask(mask, UPDATABLE_FIELDS)
        async with self._work.tenant() as work:
            row = await work.session.get(NoteRow, note_id, with_for_update=True)
            if row is None:
                raise NotFound("no such note", reason=NotesReason.NOTE_NOT_FOUND)
            check_etag(row.revision, etag, "note")
            values = {"title": title, "text": text}
            await bump_revision(work.session, row, "note", **{field: values[field] for field in mask})
            work.emit(_changed(NOTE_UPDATED, row))
        return row
