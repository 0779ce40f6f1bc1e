"""Tables of the tenants service.

Core database: the tenant records, their labels and their provisioning steps.
Tenant databases: ``tenant_identity``, one row naming the tenant the database
belongs to, checked on use so a misrouted session is caught instead of
reading another tenant's data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class CoreBase(DeclarativeBase):
    metadata = MetaData()


class TenantBase(DeclarativeBase):
    metadata = MetaData()


class TenantRow(CoreBase):
    __tablename__ = "tenants"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # NULL once the tenant is purged, so the slug can be reused; unique indexes
    # allow many NULLs on both MySQL and SQLite.
    slug: Mapped[str | None] = mapped_column(String(40), unique=True)
    # The slug the tenant had, kept for tombstones.
    former_slug: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    plan: Mapped[str] = mapped_column(String(40), default="")
    settings_json: Mapped[str] = mapped_column(Text, default="{}")
    db_server: Mapped[str] = mapped_column(String(63))
    db_name: Mapped[str] = mapped_column(String(64))
    # True during the final sync of a move to another server (services/tenants/moving.py).
    db_writes_frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failure_reason: Mapped[str] = mapped_column(String(64), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    create_request_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    # A worker provisioning or purging the tenant holds it until this time;
    # past it, the reconciler takes over.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)
    delete_time: Mapped[datetime | None] = mapped_column(DateTime)


class TenantMoveRow(CoreBase):
    """A move of a tenant's database to another server: the step it reached, so a move resumes."""

    __tablename__ = "tenant_moves"

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True
    )
    source_server: Mapped[str] = mapped_column(String(63))
    target_server: Mapped[str] = mapped_column(String(63))
    db_name: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(16))
    # Per table: [rows, checksum] of the verified copy, to tell whether the old copy changed since.
    checksums_json: Mapped[str] = mapped_column(Text, default="{}")
    start_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class TenantLabelRow(CoreBase):
    __tablename__ = "tenant_labels"
    __table_args__ = (Index("ix_tenant_labels_key_value", "label_key", "label_value"),)

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True
    )
    label_key: Mapped[str] = mapped_column(String(63), primary_key=True)
    label_value: Mapped[str] = mapped_column(String(63))


class ProvisioningStepRow(CoreBase):
    __tablename__ = "tenant_provisioning_steps"

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    schema_version: Mapped[str] = mapped_column(String(64), default="")
    update_time: Mapped[datetime] = mapped_column(DateTime)


class TenantIdentityRow(TenantBase):
    __tablename__ = "tenant_identity"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provision_time: Mapped[datetime] = mapped_column(DateTime)
