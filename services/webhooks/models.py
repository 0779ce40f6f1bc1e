"""Tables of the webhooks service, in the core database.

Webhooks are platform metadata about a tenant (like its enabled services), and
their delivery log must commit in one transaction with the delivery queue's
jobs, which live in the core database: so both tables are there, every row
carrying its tenant_id and every query filtered by the call's tenant.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A delivery's body: an event's data, which may exceed TEXT's 64 KiB on MySQL.
LongBlob = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql")


class CoreBase(DeclarativeBase):
    metadata = MetaData()


class WebhookRow(CoreBase):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_tenant", "tenant_id", "webhook_id"),)

    webhook_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    url: Mapped[str] = mapped_column(String(2000))
    # Space-separated event types (a handful, matched in Python).
    event_types: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean)
    # Signing secrets sealed under the key-encryption key (never stored in clear).
    secret: Mapped[bytes] = mapped_column(LargeBinary(length=255))
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary(length=255))
    previous_secret_expire_time: Mapped[datetime | None] = mapped_column(DateTime)
    revision: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class DeliveryLogRow(CoreBase):
    """One event for one webhook: the delivery log, and what a replay sends again."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook", "webhook_id", "delivery_id"),)

    # Time-ordered: the log pages newest first by it.
    delivery_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Unique. "<webhook_id>:<event_id>" for an event's first delivery, so handling an event
    # twice (the bus delivers at least once) cannot queue it twice; a replay's own id.
    dedup_key: Mapped[str] = mapped_column(String(80), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    webhook_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    # The delivery queue's job that sends it.
    job_id: Mapped[str] = mapped_column(String(36))
    replay_of: Mapped[str | None] = mapped_column(String(36))
    # The JSON body sent, sealed (event data is tenant data).
    body: Mapped[bytes] = mapped_column(LongBlob)
    attempts: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    last_status_code: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(500))
    create_time: Mapped[datetime] = mapped_column(DateTime)
    last_attempt_time: Mapped[datetime | None] = mapped_column(DateTime)
