"""Files in submissions: the file store's side of the FileReferences port (references.py).

SubmitForm (and an edit of answers) calls ``check`` inside its own transaction: every referenced
file is checked and, when all pass, bound to the submission by a conditional update in that
transaction, so a submission that fails binds nothing. DeleteSubmission::

    doomed = await files.prepare_release(submission_id)   # before the transaction
    async with work.tenant() as w:
        ...delete the submission...
        await files.mark_released(w.session, submission_id)
    await files.purge(doomed)                              # after the commit

``prepare_release`` writes reminders due now first: if the process dies after the commit, the
sweeper finds the files marked DELETING and finishes; if the transaction rolls back, it finds
them still attached and leaves them.

An edit of the answers that no longer references some of the submission's files detaches them::

    await files.prepare_release(submission_id)            # before the transaction
    async with work.tenant() as w:
        ...check the new answers' files (check binds new ones)...
        detached = await files.detach_unreferenced(w.session, submission_id, references)
    await files.remind_released(detached)                 # after the commit

DeleteForm with purge does the same for all the form's submissions at once (``prepare_release_all``,
``mark_all_released`` before their rows go, ``purge``); a submission stored between the first
two makes the deletion ABORTED, since its files have no reminder.

The detached files are marked DELETING and left to the sweeper (an earlier revision of the answers
may still name them; the revision keeps the reference, not the file). The reminders written
before cover a crash after the commit; written again after it, they also cover a sweep that ran
meanwhile and found the files still attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.forms.files.files import Files, is_expired
from services.forms.files.models import FileRow, FileState
from services.forms.files.reasons import FileReason
from services.forms.files.references import FileAnswer, RefusedFile
from services.forms.files.settings import type_matches
from services.runtime.clock import utcnow
from services.runtime.context import current_principal
from services.runtime.errors import Aborted
from services.runtime.tenant_db import tenant_session


def _files_of(submissions: Select[Any]) -> Select[str]:
    """The ids of the files the submissions ``submissions`` selects hold."""
    return select(FileRow.file_id).where(FileRow.submission_id.in_(submissions))


def _refused(answer: FileAnswer, message: str, reason: FileReason) -> RefusedFile:
    return RefusedFile(answer.pointer, message, reason)


class SubmissionFiles:
    def __init__(self, files: Files) -> None:
        self._files = files

    def _refusal(self, answer: FileAnswer, row: FileRow | None, submission_id: str, subject: str) -> RefusedFile | None:
        if row is None or row.state == FileState.DELETING:
            # Also another tenant's reference: it is looked up in this tenant only.
            return _refused(answer, "no such file", FileReason.FILE_NOT_FOUND)
        if row.state == FileState.ATTACHED:
            if row.submission_id == submission_id:
                return None  # an edit of the answers keeps the submission's own file
            return _refused(answer, "the file belongs to another submission", FileReason.FILE_ATTACHED)
        if is_expired(row, utcnow()):
            return _refused(answer, "the upload expired; upload the file again", FileReason.FILE_EXPIRED)
        if row.uploaded_by != subject:
            return _refused(answer, "the file was uploaded by someone else", FileReason.FILE_NOT_YOURS)
        rules = answer.rules
        if rules is not None and rules.max_bytes and row.size_bytes > rules.max_bytes:
            return _refused(answer, f"larger than {rules.max_bytes} bytes", FileReason.FILE_TOO_LARGE)
        if rules is not None and rules.accept and not type_matches(row.content_type, tuple(rules.accept)):
            return _refused(answer, "not a file type this field accepts", FileReason.FILE_TYPE_NOT_ALLOWED)
        return None

    async def check(self, session: AsyncSession, submission_id: str, files: Sequence[FileAnswer]) -> list[RefusedFile]:
        if not files:
            return []
        ids = sorted({f.reference for f in files})
        rows = {
            row.file_id: row
            for row in (await session.execute(select(FileRow).where(FileRow.file_id.in_(ids)))).scalars()
        }
        subject = current_principal().subject
        refused: list[RefusedFile] = []
        seen: set[str] = set()
        for answer in files:
            found = self._refusal(answer, rows.get(answer.reference), submission_id, subject)
            if found is None and answer.reference in seen:
                found = _refused(answer, "the file answers another field already", FileReason.FILE_ATTACHED)
            seen.add(answer.reference)
            if found is not None:
                refused.append(found)
        if refused:
            return refused
        uploads = [file_id for file_id in ids if rows[file_id].state == FileState.UPLOADED]
        if uploads:
            result = await session.execute(
                update(FileRow)
                .where(
                    FileRow.file_id.in_(uploads), FileRow.state == FileState.UPLOADED, FileRow.expire_time > utcnow()
                )
                .values(state=FileState.ATTACHED, submission_id=submission_id, expire_time=None)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != len(uploads):
                # Taken, withdrawn or expired between the check and the update: the submission's
                # transaction rolls back and the client may retry.
                raise Aborted("a file changed while the submission was stored; try again")
        return []

    async def prepare_release(self, submission_id: str) -> list[str]:
        async with tenant_session(self._files.db) as session:
            ids = list(
                (await session.execute(select(FileRow.file_id).where(FileRow.submission_id == submission_id))).scalars()
            )
        await self._files.remind_now(ids)
        return ids

    async def mark_released(self, session: AsyncSession, submission_id: str) -> None:
        await session.execute(
            update(FileRow)
            .where(FileRow.submission_id == submission_id)
            .values(state=FileState.DELETING)
            .execution_options(synchronize_session=False)
        )

    async def purge(self, file_ids: list[str]) -> None:
        await self._files.purge(file_ids)

    async def prepare_release_all(self, submissions: Select[Any]) -> list[str]:
        async with tenant_session(self._files.db) as session:
            ids = list((await session.execute(_files_of(submissions))).scalars())
        await self._files.remind_now(ids)
        return ids

    async def mark_all_released(self, session: AsyncSession, submissions: Select[Any], prepared: Sequence[str]) -> None:
        held = set((await session.execute(_files_of(submissions))).scalars())
        if not held <= set(prepared):
            # Without a reminder, a file marked here would be lost if the process died before
            # purge(): the caller's transaction rolls back instead, and a retry notes them all.
            raise Aborted("a submission was stored meanwhile; try again")
        await session.execute(
            update(FileRow)
            .where(FileRow.submission_id.in_(submissions))
            .values(state=FileState.DELETING)
            .execution_options(synchronize_session=False)
        )

    async def detach_unreferenced(self, session: AsyncSession, submission_id: str, kept: Sequence[str]) -> list[str]:
        query = select(FileRow.file_id).where(
            FileRow.submission_id == submission_id, FileRow.state == FileState.ATTACHED
        )
        if kept:
            query = query.where(FileRow.file_id.not_in(sorted(set(kept))))
        detached = list((await session.execute(query)).scalars())
        if detached:
            await session.execute(
                update(FileRow)
                .where(FileRow.file_id.in_(detached))
                .values(state=FileState.DELETING, submission_id=None)
                .execution_options(synchronize_session=False)
            )
        return detached

    async def remind_released(self, file_ids: list[str]) -> None:
        await self._files.remind_now(file_ids)
