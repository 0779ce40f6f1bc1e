"""The files' tables: one per tenant database (what each file is), one in the core database
(when to look at an upload again, so one query finds every tenant's expired uploads)."""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path

from sqlalchemy import BigInteger, DateTime, Index, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import MigrationSet

# The expiry reminders: the files' own history in the core database.
CORE_MIGRATIONS = MigrationSet(
    service="forms_files", scope="core", directory=Path(__file__).parent / "migrations" / "core"
)


class FileState(enum.StrEnum):
    # Uploaded, waiting for a submission until expire_time.
    UPLOADED = "UPLOADED"
    # Held by a submission.
    ATTACHED = "ATTACHED"
    # Its submission was deleted (or the upload withdrawn): content and row go next.
    DELETING = "DELETING"


class _TenantBase(DeclarativeBase):
    metadata = MetaData()


class FileRow(_TenantBase):
    # In each tenant's database (declared without a schema; sessions are routed).
    __tablename__ = "form_files"

    file_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    uploaded_by: Mapped[str] = mapped_column(String(120))
    # The submission holding it (no foreign key: submissions are the forms service's table).
    submission_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    expire_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    create_time: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_form_files_submission", "submission_id"),)


class _CoreBase(DeclarativeBase):
    metadata = MetaData()


class FileReminderRow(_CoreBase):
    """Look at this tenant's file at ``due_time``: delete it unless a submission holds it."""

    __tablename__ = "form_file_reminders"

    file_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    due_time: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_form_file_reminders_due", "due_time"),)
