"""Files: uploads of the caller's tenant, kept in the blob store, described in the tenant database.

An upload is written in three steps, each leaving nothing behind if the next never happens:
a reminder in the core database (look at this file when its upload expires), the content in
the blob store (kept whole or not at all), the file's row in the tenant database. The sweeper
(services.forms.files.sweeper) acts on due reminders: it deletes whatever no submission
holds by then, so a process that dies between the steps leaves only work for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete

from services.forms.files.models import FileReminderRow, FileRow, FileState
from services.forms.files.reasons import FileReason
from services.forms.files.settings import FilesSettings, type_matches
from services.runtime.clock import utcnow
from services.runtime.context import current_principal, current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.errors import (
    CommonReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from services.runtime.ids import uuid7
from services.runtime.storage import (
    BlobNotFound,
    BlobReader,
    BlobTooLarge,
    StorageFull,
    StorageUnavailable,
    TenantBlobs,
)
from services.runtime.tenant_db import tenant_session

log = logging.getLogger("tenantmesh.forms.files")

DEFAULT_FILENAME = "file"
# Where the upload's content type and bytes are in UploadFileRequest (for field violations).
CONTENT_TYPE_FIELD = "content.content_type"
CONTENT_FIELD = "content.data"


# RFC 6838 §4.2: type "/" subtype, each a restricted-name of at most 127 characters (lower case
# here, as media_type() leaves it); at most 255 characters in all, the column's width.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def blob_name(file_id: str) -> str:
    return f"files/{file_id}"


def media_type(declared: str) -> str:
    """The type/subtype of a Content-Type, without parameters, lower case."""
    return declared.split(";", 1)[0].strip().lower()


def store_unavailable(exc: StorageUnavailable) -> Unavailable:
    log.warning("file store unavailable: %s", exc)
    return Unavailable("the file store is not available; try again", reason=CommonReason.DEPENDENCY_UNAVAILABLE)


def too_large(limit: int) -> InvalidArgument:
    return InvalidArgument(
        f"the file is larger than {limit} bytes",
        reason=FileReason.FILE_TOO_LARGE,
        violations=[FieldViolation(CONTENT_FIELD, f"larger than {limit} bytes", FileReason.FILE_TOO_LARGE)],
    )


def is_expired(row: FileRow, now: datetime) -> bool:
    return row.state == FileState.UPLOADED and row.expire_time is not None and row.expire_time <= now


class Files:
    def __init__(self, db: DatabaseRouter, blobs: TenantBlobs, settings: FilesSettings) -> None:
        self.db = db
        self._blobs = blobs
        self.settings = settings

    async def upload(self, filename: str, declared_type: str, content: AsyncIterable[bytes]) -> FileRow:
        content_type = self._allowed_type(declared_type)
        tenant_id = current_tenant().tenant_id
        file_id = uuid7()
        now = utcnow()
        expire_time = now + timedelta(seconds=self.settings.upload_ttl_seconds)
        await self._remind(file_id, tenant_id, expire_time)
        try:
            stored = await self._blobs.put(
                blob_name(file_id), content, max_bytes=self.settings.max_bytes, content_type=content_type
            )
        except BlobTooLarge:
            await self.forget(file_id)
            raise too_large(self.settings.max_bytes) from None
        except StorageUnavailable as exc:
            await self.forget(file_id)
            raise store_unavailable(exc) from exc
        except StorageFull as exc:
            await self.forget(file_id)
            log.error("file store full: %s", exc)
            raise ResourceExhausted(
                "the file store has no space left; nothing was kept", reason=CommonReason.STORAGE_FULL
            ) from exc
        except Exception:
            # The stream broke (a malformed message, a lost connection): the store kept nothing;
            # the reminder stays if even forgetting fails, and the sweeper finds nothing to delete.
            with contextlib.suppress(Exception):
                await self.forget(file_id)
            raise
        except BaseException:
            # The call was cancelled. Whether the store kept the content is not known (it can land
            # after the object store took it): the reminder stays, due now, and the sweeper deletes
            # whatever is there once it finds no row for it.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._remind(file_id, tenant_id, utcnow()))
            raise
        row = FileRow(
            file_id=file_id,
            filename=filename or DEFAULT_FILENAME,
            content_type=content_type,
            size_bytes=stored.size,
            sha256=stored.sha256,
            state=FileState.UPLOADED,
            uploaded_by=current_principal().subject,
            submission_id=None,
            expire_time=expire_time,
            create_time=now,
        )
        async with tenant_session(self.db) as session:
            session.add(row)
            await session.commit()
        return row

    def _allowed_type(self, declared: str) -> str:
        content_type = media_type(declared)
        if not content_type:
            raise InvalidArgument(
                "the upload has no content type",
                violations=[FieldViolation(CONTENT_TYPE_FIELD, "required: the content type of the file")],
            )
        if not _MEDIA_TYPE.fullmatch(content_type):
            # Before the allowed types: a prefix pattern ("application/vnd.oasis.opendocument.*")
            # would take any tail, however long or strange.
            raise InvalidArgument(
                "the content type is not a media type (type/subtype)",
                violations=[
                    FieldViolation(CONTENT_TYPE_FIELD, "not a media type: type/subtype, at most 255 characters")
                ],
            )
        if not type_matches(content_type, self.settings.allowed_types):
            raise InvalidArgument(
                f"files of type {content_type} are not accepted",
                reason=FileReason.FILE_TYPE_NOT_ALLOWED,
                violations=[
                    FieldViolation(CONTENT_TYPE_FIELD, "not an accepted file type", FileReason.FILE_TYPE_NOT_ALLOWED)
                ],
            )
        return content_type

    async def get(self, file_id: str) -> FileRow:
        """The file as its tenant's callers see it: NOT_FOUND unless it exists and is live."""
        async with tenant_session(self.db) as session:
            row = await session.get(FileRow, file_id)
        if row is None or row.state == FileState.DELETING:
            raise NotFound("no such file", reason=FileReason.FILE_NOT_FOUND)
        if is_expired(row, utcnow()):
            raise NotFound("the upload expired before a submission took it", reason=FileReason.FILE_EXPIRED)
        return row

    @asynccontextmanager
    async def open(self, file_id: str) -> AsyncIterator[tuple[FileRow, BlobReader]]:
        row = await self.get(file_id)
        try:
            # The row's id, not the caller's spelling of it: a database that compares ids without
            # regard to case (MariaDB's collation) finds the row for "0A1B..." too.
            async with self._blobs.open(blob_name(row.file_id)) as reader:
                yield row, reader
        except StorageUnavailable as exc:
            raise store_unavailable(exc) from exc
        except BlobNotFound:
            # Deleted between reading its row and opening its content (a DeleteFile meanwhile).
            raise NotFound("no such file", reason=FileReason.FILE_NOT_FOUND) from None

    async def delete(self, file_id: str) -> None:
        """Withdraws an upload no submission holds."""
        row = await self.get(file_id)
        if row.state == FileState.ATTACHED:
            raise FailedPrecondition(
                "a submission holds the file; it is deleted with the submission", reason=FileReason.FILE_ATTACHED
            )
        file_id = row.file_id  # as stored: the blob's and the reminder's name (see open())
        async with tenant_session(self.db) as session:
            result = await session.execute(
                delete(FileRow)
                .where(FileRow.file_id == file_id, FileRow.state == FileState.UPLOADED)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        if getattr(result, "rowcount", 0) != 1:
            # A submission took it meanwhile.
            raise FailedPrecondition("a submission holds the file", reason=FileReason.FILE_ATTACHED)
        await self.purge([file_id])

    async def purge(self, file_ids: list[str]) -> None:
        """Deletes the content of files whose rows are gone or marked DELETING, then their reminders.

        A content the store cannot delete now keeps its reminder: the sweeper tries again.
        """
        for file_id in file_ids:
            try:
                await self._blobs.delete(blob_name(file_id))
            except StorageUnavailable as exc:
                log.warning("file %s: content not deleted yet (%s); the sweeper retries", file_id, exc)
                continue
            async with tenant_session(self.db) as session:
                await session.execute(
                    delete(FileRow)
                    .where(FileRow.file_id == file_id, FileRow.state == FileState.DELETING)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
            await self.forget(file_id)

    async def remind_now(self, file_ids: list[str]) -> None:
        """Reminders due now, written before a transaction that may mark these files for deletion."""
        tenant_id = current_tenant().tenant_id
        for file_id in file_ids:
            await self._remind(file_id, tenant_id, utcnow())

    async def _remind(self, file_id: str, tenant_id: str, due_time: datetime) -> None:
        async with self.db.core_session() as session:
            await session.merge(FileReminderRow(file_id=file_id, tenant_id=tenant_id, due_time=due_time))
            await session.commit()

    async def forget(self, file_id: str) -> None:
        """Drops the file's reminder: nothing is left to do for it."""
        async with self.db.core_session() as session:
            await session.execute(
                delete(FileReminderRow)
                .where(FileReminderRow.file_id == file_id)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
