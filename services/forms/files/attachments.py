"""Files in submissions: the seam the forms service calls from SubmitForm and DeleteSubmission.

SubmitForm, inside its own tenant transaction::

    violations = await submission_files.attach(session, submission_id, answers)
    # violations: add them to the submission's own; any at all -> INVALID_ARGUMENT, and the
    # rollback keeps every file as it was (nothing attached, nothing stored).

DeleteSubmission::

    doomed = await submission_files.prepare_delete(submission_id)   # before the transaction
    async with work.tenant() as w:
        ...delete the submission...
        await submission_files.mark_deleted(w.session, submission_id)
    await submission_files.purge(doomed)                              # after the commit

``prepare_delete`` writes reminders due now first: if the process dies after the commit, the
sweeper finds the files marked DELETING and finishes; if the transaction rolls back, it finds
them still attached and leaves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from tenantmesh.forms.v1 import form_pb2

from services.forms.files.files import Files, is_expired
from services.forms.files.models import FileRow, FileState
from services.forms.files.reasons import FileReason
from services.forms.files.settings import type_matches
from services.runtime.clock import utcnow
from services.runtime.context import current_principal
from services.runtime.errors import Aborted, FieldViolation
from services.runtime.tenant_db import tenant_session


@dataclass(frozen=True)
class FileAnswer:
    """One FILE answer of a submission: where it is, the reference it carries, the field's rules."""

    path: str
    file_id: str
    rules: form_pb2.FileRules | None = None


def _violation(answer: FileAnswer, description: str, reason: FileReason) -> FieldViolation:
    return FieldViolation(answer.path, description, reason)


class SubmissionFiles:
    def __init__(self, files: Files) -> None:
        self._files = files

    def _check(self, answer: FileAnswer, row: FileRow | None, subject: str) -> FieldViolation | None:
        if row is None or row.state == FileState.DELETING:
            # Also another tenant's reference: it is looked up in this tenant only.
            return _violation(answer, "no such file", FileReason.FILE_NOT_FOUND)
        if row.state == FileState.ATTACHED:
            return _violation(answer, "the file belongs to another submission", FileReason.FILE_ATTACHED)
        if is_expired(row, utcnow()):
            return _violation(answer, "the upload expired; upload the file again", FileReason.FILE_EXPIRED)
        if row.uploaded_by != subject:
            return _violation(answer, "the file was uploaded by someone else", FileReason.FILE_NOT_YOURS)
        rules = answer.rules
        if rules is not None and rules.max_bytes and row.size_bytes > rules.max_bytes:
            return _violation(answer, f"larger than {rules.max_bytes} bytes", FileReason.FILE_TOO_LARGE)
        if rules is not None and rules.accept and not type_matches(row.content_type, tuple(rules.accept)):
            return _violation(answer, "not a file type this field accepts", FileReason.FILE_TYPE_NOT_ALLOWED)
        return None

    async def attach(
        self, session: AsyncSession, submission_id: str, answers: Sequence[FileAnswer]
    ) -> list[FieldViolation]:
        """Checks every referenced file and, when all pass, attaches them in ``session``'s transaction."""
        if not answers:
            return []
        ids = sorted({a.file_id for a in answers})
        rows = {
            row.file_id: row
            for row in (await session.execute(select(FileRow).where(FileRow.file_id.in_(ids)))).scalars()
        }
        subject = current_principal().subject
        violations: list[FieldViolation] = []
        seen: set[str] = set()
        for answer in answers:
            found = self._check(answer, rows.get(answer.file_id), subject)
            if found is None and answer.file_id in seen:
                found = _violation(answer, "the file answers another field already", FileReason.FILE_ATTACHED)
            seen.add(answer.file_id)
            if found is not None:
                violations.append(found)
        if violations:
            return violations
        result = await session.execute(
            update(FileRow)
            .where(FileRow.file_id.in_(ids), FileRow.state == FileState.UPLOADED, FileRow.expire_time > utcnow())
            .values(state=FileState.ATTACHED, submission_id=submission_id, expire_time=None)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != len(ids):
            # Taken, withdrawn or expired between the check and the update: the caller's
            # transaction rolls back and the client may retry.
            raise Aborted("a file changed while the submission was stored; try again")
        return []

    async def prepare_delete(self, submission_id: str) -> list[str]:
        async with tenant_session(self._files.db) as session:
            ids = list(
                (await session.execute(select(FileRow.file_id).where(FileRow.submission_id == submission_id))).scalars()
            )
        await self._files.remind_now(ids)
        return ids

    async def mark_deleted(self, session: AsyncSession, submission_id: str) -> None:
        await session.execute(
            update(FileRow)
            .where(FileRow.submission_id == submission_id)
            .values(state=FileState.DELETING)
            .execution_options(synchronize_session=False)
        )

    async def purge(self, file_ids: list[str]) -> None:
        await self._files.purge(file_ids)
