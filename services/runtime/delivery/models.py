"""The delivery_jobs table: one row per outbound message, from queued to sent or dead.

Shared runtime infrastructure in the core database, migrated with its own version
table (like the event outbox). A row is written in the producer's transaction, so a
message exists exactly when the change that caused it was committed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path

from sqlalchemy import DateTime, Integer, LargeBinary, MetaData, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import MigrationSet

DELIVERY_MIGRATIONS = MigrationSet(
    service="delivery", scope="core", directory=Path(__file__).parent.parent / "migrations" / "delivery"
)

# Retry times need sub-second precision (short backoffs in tests, fair ordering under load);
# the platform's other timestamps are whole seconds.
_PRECISE_TIME = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class JobState(enum.StrEnum):
    # Waiting for its due time, or being sent by the dispatcher holding its lease.
    PENDING = "PENDING"
    SENT = "SENT"
    # Given up: a permanent failure, or attempts exhausted; kept for the operator.
    DEAD = "DEAD"


class DeadReason(enum.StrEnum):
    # The receiver refused the message for good (e.g. SMTP 5xx).
    REJECTED = "REJECTED"
    # Transient failures until the last attempt.
    ATTEMPTS_EXHAUSTED = "ATTEMPTS_EXHAUSTED"
    # The sealed payload did not open: the key-encryption key changed or the row was altered.
    PAYLOAD_UNREADABLE = "PAYLOAD_UNREADABLE"
    # The message cannot be built any more (its template is gone from this build).
    UNRENDERABLE = "UNRENDERABLE"


class _DeliveryBase(DeclarativeBase):
    metadata = MetaData()


class DeliveryRow(_DeliveryBase):
    __tablename__ = "delivery_jobs"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Which channel sends it ("mail"); a dispatcher claims only channels its process serves.
    channel: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str | None] = mapped_column(String(36))
    # What the message is, without secrets or addresses (mail: the template name), for operators.
    topic: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16))
    # Claims so far; also the version a claim compares against, so one dispatcher wins.
    attempts: Mapped[int] = mapped_column(Integer)
    # Next time any dispatcher may claim it: its retry time, or the end of a claim's lease;
    # on the database's clock, as every dispatcher compares it (services/runtime/db/clock.py).
    due_time: Mapped[datetime] = mapped_column(_PRECISE_TIME)
    # Set by the claim that holds the job; the send is recorded only under the same token.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    # The channel's payload sealed under the key-encryption key; wiped once sent.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary(length=2**24 - 1))
    create_time: Mapped[datetime] = mapped_column(DateTime)
    finish_time: Mapped[datetime | None] = mapped_column(DateTime)
    dead_reason: Mapped[str | None] = mapped_column(String(40))
    # The last failure as the receiver stated it (never the payload).
    last_error: Mapped[str | None] = mapped_column(String(500))


def sealing_context(job_id: str) -> str:
    """Associated data of a job's sealed payload: it opens only in its own row."""
    return f"delivery-job:{job_id}"
