"""Tables of the registry service, all in the core database.

The catalogue (services, their tags and versions), the instances with their
leases and health, each tenant's enabled services with its configuration, and
the lease that elects the replica running health checks. JSON documents
(schemas, menu entries, forms, configs) are stored as text: the registry
validates them on write and never queries inside them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# MySQL's TEXT and BLOB stop at 64 KiB; schemas and descriptor sets can be larger.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
LongBlob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql")


class CoreBase(DeclarativeBase):
    metadata = MetaData()


class ServiceRow(CoreBase):
    __tablename__ = "registry_services"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    config_schema_json: Mapped[str] = mapped_column(LongText)
    menu_entries_json: Mapped[str] = mapped_column(LongText)
    forms_json: Mapped[str] = mapped_column(LongText)
    permissions_json: Mapped[str] = mapped_column(LongText)
    health_check_json: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    create_request_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class ServiceTagRow(CoreBase):
    __tablename__ = "registry_service_tags"
    __table_args__ = (Index("ix_registry_service_tags_tag", "tag"),)

    service: Mapped[str] = mapped_column(
        String(63), ForeignKey("registry_services.name", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(63), primary_key=True)


class ServiceVersionRow(CoreBase):
    __tablename__ = "registry_service_versions"

    service: Mapped[str] = mapped_column(
        String(63), ForeignKey("registry_services.name", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    # "", "DESCRIPTOR_SET" or "OPENAPI"; the contract is the serialized
    # descriptor set or the OpenAPI document as UTF-8 JSON.
    contract_format: Mapped[str] = mapped_column(String(16))
    contract: Mapped[bytes] = mapped_column(LongBlob)
    create_time: Mapped[datetime] = mapped_column(DateTime)


class InstanceRow(CoreBase):
    __tablename__ = "registry_instances"
    __table_args__ = (UniqueConstraint("service", "address", name="uq_registry_instances_service_address"),)

    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    service: Mapped[str] = mapped_column(String(63), ForeignKey("registry_services.name", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(300))
    metadata_json: Mapped[str] = mapped_column(Text)
    ttl_seconds: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[datetime] = mapped_column(DateTime, index=True)
    health: Mapped[str] = mapped_column(String(16))
    last_check_time: Mapped[datetime | None] = mapped_column(DateTime)
    last_check_error: Mapped[str] = mapped_column(String(300))
    register_time: Mapped[datetime] = mapped_column(DateTime)


class EnabledServiceRow(CoreBase):
    __tablename__ = "registry_enabled_services"
    __table_args__ = (
        Index("ix_registry_enabled_services_service", "service"),
        # Request ids are the tenant's: another tenant's retry must not find them.
        UniqueConstraint("tenant_id", "create_request_id", name="uq_registry_enabled_services_request"),
    )

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # No foreign key: deleting a service that tenants use is refused by the
    # domain, and a tenant's rows go when the tenant is deleted.
    service: Mapped[str] = mapped_column(String(63), primary_key=True)
    config_json: Mapped[str] = mapped_column(LongText)
    revision: Mapped[int] = mapped_column(Integer)
    create_request_id: Mapped[str | None] = mapped_column(String(36))
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class LeaseRow(CoreBase):
    """A named lease one replica holds at a time (the health checker's)."""

    __tablename__ = "registry_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    lease_until: Mapped[datetime] = mapped_column(DateTime)
