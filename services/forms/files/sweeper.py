"""The sweeper: deletes uploads no submission took in time, and finishes interrupted deletions.

It works from the core database's reminders (one indexed query finds every tenant's due
files), looks at each file in its tenant's database and deletes the content and the row
unless a submission holds the file. One replica sweeps at a time: a round runs under a
server-wide named lock (MySQL/MariaDB ``GET_LOCK``; SQLite has one process) that the others
do not wait for. A tenant that fails (its database or the file store unreachable) has its
reminders put off and does not hold up the rest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from services.forms.files.files import Files, blob_name, is_expired
from services.forms.files.models import FileReminderRow, FileRow, FileState
from services.runtime.background import Periodic
from services.runtime.clock import utcnow
from services.runtime.context import GONE_STATES, acting_for
from services.runtime.db import DatabaseRouter
from services.runtime.db.locks import LockTimeout, named_lock
from services.runtime.storage import TenantBlobs
from services.runtime.tenant_db import tenant_session
from services.runtime.tenant_directory import TenantDirectory

log = logging.getLogger("tenantmesh.forms.files.sweeper")

LOCK_NAME = "tenantmesh_forms_file_sweep"
# A reminder whose tenant failed is looked at again after this many sweep intervals.
_PUT_OFF_INTERVALS = 5


class FileSweeper:
    def __init__(self, db: DatabaseRouter, files: Files, blobs: TenantBlobs, tenants: TenantDirectory) -> None:
        self._db = db
        self._files = files
        self._blobs = blobs
        self._tenants = tenants
        self._settings = files.settings
        self._periodic = Periodic("forms-file-sweeper", self.sweep_once, self._settings.sweep_interval_seconds, log)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def sweep_once(self) -> int:
        """Handles the due reminders of one batch; returns how many (0 when another replica sweeps)."""
        try:
            async with self._db.core_connection() as conn, named_lock(conn, LOCK_NAME, 0):
                return await self._sweep()
        except LockTimeout:
            return 0

    async def _sweep(self) -> int:
        async with self._db.core_session() as session:
            due = list(
                (
                    await session.execute(
                        select(FileReminderRow)
                        .where(FileReminderRow.due_time <= utcnow())
                        .order_by(FileReminderRow.due_time)
                        .limit(self._settings.sweep_batch)
                    )
                ).scalars()
            )
        for reminder in due:
            try:
                await self._handle(reminder.tenant_id, reminder.file_id)
            except Exception:
                log.warning("file %s of tenant %s: not swept now", reminder.file_id, reminder.tenant_id, exc_info=True)
                await self._put_off(reminder.file_id)
        return len(due)

    async def _handle(self, tenant_id: str, file_id: str) -> None:
        tenant = await self._tenants.lookup(tenant_id)
        if tenant is None or tenant.state in GONE_STATES:
            # The tenant's data goes with the tenant; nothing of it is looked at any more.
            await self._files.forget(file_id)
            return
        with acting_for(tenant):
            async with tenant_session(self._db) as session:
                row = await session.get(FileRow, file_id)
                now = utcnow()
                if row is not None and row.state == FileState.ATTACHED:
                    await self._files.forget(file_id)
                    return
                if row is not None and row.state == FileState.UPLOADED and not is_expired(row, now):
                    # Not due yet (the reminder was early): look again when it is.
                    assert row.expire_time is not None
                    await self._reschedule(file_id, row.expire_time)
                    return
                if row is not None:
                    # Expired or being deleted: the row goes first, conditionally, so a
                    # submission that takes the file at this moment wins or loses cleanly.
                    result = await session.execute(
                        delete(FileRow)
                        .where(FileRow.file_id == file_id, FileRow.state != FileState.ATTACHED)
                        .where((FileRow.state == FileState.DELETING) | (FileRow.expire_time <= now))
                        .execution_options(synchronize_session=False)
                    )
                    await session.commit()
                    if getattr(result, "rowcount", 0) != 1:
                        await self._files.forget(file_id)
                        return
            await self._blobs.delete(blob_name(file_id))
        await self._files.forget(file_id)
        log.info("file %s of tenant %s deleted (expired upload or deleted submission)", file_id, tenant_id)

    async def forget_tenant(self, tenant_id: str) -> None:
        """Drops every reminder of a tenant being deleted (its files' content is removed whole)."""
        async with self._db.core_session() as session:
            await session.execute(delete(FileReminderRow).where(FileReminderRow.tenant_id == tenant_id))
            await session.commit()

    async def _reschedule(self, file_id: str, due_time: datetime) -> None:
        async with self._db.core_session() as session:
            await session.execute(
                update(FileReminderRow)
                .where(FileReminderRow.file_id == file_id)
                .values(due_time=due_time)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def _put_off(self, file_id: str) -> None:
        later = utcnow() + timedelta(seconds=self._settings.sweep_interval_seconds * _PUT_OFF_INTERVALS)
        await self._reschedule(file_id, later)
