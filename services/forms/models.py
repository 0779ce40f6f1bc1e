"""Tables of the forms service, in every tenant database (never in the core database).

``submission_values`` is the index of filterable answers: one row per top-level scalar answer of a
submission, written in the same transaction as the submission, so a filter on an answer is an index
range scan on (form, field, value) instead of a scan of JSON documents, on MariaDB and SQLite alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Double, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
LongBinary = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql")
# Indexed text values are cut to this many characters (utf8mb4 keys stay within MariaDB's limit);
# a filter value longer than this compares on its prefix and is then checked in full.
INDEXED_TEXT_LENGTH = 191
IndexedText = String(INDEXED_TEXT_LENGTH).with_variant(
    mysql.VARCHAR(INDEXED_TEXT_LENGTH, charset="utf8mb4", collation="utf8mb4_nopad_bin"), "mysql"
)


class TenantBase(DeclarativeBase):
    metadata = MetaData()


class FormRow(TenantBase):
    __tablename__ = "forms"

    form_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(127), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    labels_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # FormStatus without its prefix
    owning_service: Mapped[str] = mapped_column(String(63), index=True)
    contribution_hash: Mapped[str] = mapped_column(String(64))  # of the service's contribution installed
    draft_json: Mapped[str] = mapped_column(LongText)
    allow_edits: Mapped[bool] = mapped_column(Boolean)
    latest_version: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    revision: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class FormVersionRow(TenantBase):
    __tablename__ = "form_versions"

    form_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_json: Mapped[str] = mapped_column(LongText)
    content_hash: Mapped[str] = mapped_column(String(64))
    compatibility_json: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str] = mapped_column(String(200))
    create_time: Mapped[datetime] = mapped_column(DateTime)


class SubmissionRow(TenantBase):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_form", "form_id", "submission_id"),
        Index("ix_submissions_submitter", "submitter", "submission_id"),
    )

    # A UUIDv7: ordered by creation, the key every listing pages on.
    submission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    answers_json: Mapped[str] = mapped_column(LongText)
    # The same answers as a serialized google.protobuf.Struct, written with answers_json: an answer
    # parses them in C instead of building a Struct field by field in Python. Null for submissions
    # stored before the column (forms_tenant_0003): those are read from answers_json.
    answers_struct: Mapped[bytes | None] = mapped_column(LongBinary)
    status: Mapped[str] = mapped_column(String(16))  # SubmissionStatus without its prefix
    submitter: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    revision_count: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    revision: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class SubmissionValueRow(TenantBase):
    __tablename__ = "submission_values"
    __table_args__ = (
        Index("ix_submission_values_text", "form_id", "field", "value_text", "submission_id"),
        Index("ix_submission_values_number", "form_id", "field", "value_number", "submission_id"),
    )

    submission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    form_id: Mapped[str] = mapped_column(String(36))
    # Strings (cut to INDEXED_TEXT_LENGTH), and booleans as "true"/"false"; numbers in value_number.
    # Compared exactly, as the forms engine compares: bytes, not MariaDB's default collation, and
    # doubles, not MariaDB's single-precision FLOAT (forms_tenant_0004).
    value_text: Mapped[str | None] = mapped_column(IndexedText)
    value_number: Mapped[float | None] = mapped_column(Double)


class SubmissionRevisionRow(TenantBase):
    __tablename__ = "submission_revisions"

    submission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    answers_json: Mapped[str] = mapped_column(LongText)
    editor: Mapped[str] = mapped_column(String(200))
    replace_time: Mapped[datetime] = mapped_column(DateTime)


class FormsAuditRow(TenantBase):
    """Deletions of answers (a submission, a form's purge): who, what, when, in which call."""

    __tablename__ = "forms_audit"

    audit_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    details_json: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(64))
    create_time: Mapped[datetime] = mapped_column(DateTime)
