"""Tables of the menus service, in every tenant database: the tenant's overrides and custom entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class TenantBase(DeclarativeBase):
    metadata = MetaData()


class MenuOverrideRow(TenantBase):
    """A change to an entry the tenant does not own, keyed by the entry's key ("service/billing/invoices"),
    which is (source, entry id): it survives the service's upgrades and waits while the entry is gone."""

    __tablename__ = "menu_overrides"

    entry_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Columns left NULL keep the entry's own value.
    label: Mapped[str | None] = mapped_column(String(100))
    label_translations_json: Mapped[str] = mapped_column(Text)
    icon: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[int | None] = mapped_column(Integer)
    parent: Mapped[str | None] = mapped_column(String(200))
    hidden: Mapped[bool | None] = mapped_column()
    required_permission: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class CustomEntryRow(TenantBase):
    __tablename__ = "menu_custom_entries"

    entry_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(100))
    label_translations_json: Mapped[str] = mapped_column(Text)
    icon: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    parent: Mapped[str] = mapped_column(String(200))
    route: Mapped[str] = mapped_column(String(500))
    external_url: Mapped[str] = mapped_column(String(2000))
    # A form key: up to 127 characters ("<63>.<63>").
    form_id: Mapped[str] = mapped_column(String(127))
    required_permission: Mapped[str] = mapped_column(String(200))
    # The request_id of the create, so a retry returns the entry it made.
    request_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    revision: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)
