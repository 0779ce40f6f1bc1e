"""Service catalogue, versions, instances, tenant enablement, leases.

Revision ID: registry_core_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "registry_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
LongBlob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql")


def upgrade() -> None:
    op.create_table(
        "registry_services",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("config_schema_json", LongText, nullable=False),
        sa.Column("menu_entries_json", LongText, nullable=False),
        sa.Column("forms_json", LongText, nullable=False),
        sa.Column("permissions_json", LongText, nullable=False),
        sa.Column("health_check_json", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_request_id", sa.String(36), nullable=True, unique=True),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_registry_services_kind", "registry_services", ["kind"], if_not_exists=True)
    op.create_table(
        "registry_service_tags",
        sa.Column(
            "service", sa.String(63), sa.ForeignKey("registry_services.name", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("tag", sa.String(63), primary_key=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_registry_service_tags_tag", "registry_service_tags", ["tag"], if_not_exists=True)
    op.create_table(
        "registry_service_versions",
        sa.Column(
            "service", sa.String(63), sa.ForeignKey("registry_services.name", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("contract_format", sa.String(16), nullable=False),
        sa.Column("contract", LongBlob, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "registry_instances",
        sa.Column("instance_id", sa.String(36), primary_key=True),
        sa.Column(
            "service", sa.String(63), sa.ForeignKey("registry_services.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("metadata_json", sa.Text, nullable=False),
        sa.Column("ttl_seconds", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.DateTime, nullable=False),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("last_check_time", sa.DateTime, nullable=True),
        sa.Column("last_check_error", sa.String(300), nullable=False),
        sa.Column("register_time", sa.DateTime, nullable=False),
        sa.UniqueConstraint("service", "address", name="uq_registry_instances_service_address"),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_registry_instances_lease_until", "registry_instances", ["lease_until"], if_not_exists=True)
    op.create_table(
        "registry_enabled_services",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("service", sa.String(63), primary_key=True),
        sa.Column("config_json", LongText, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_request_id", sa.String(36), nullable=True),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        sa.UniqueConstraint("tenant_id", "create_request_id", name="uq_registry_enabled_services_request"),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index(
        "ix_registry_enabled_services_service", "registry_enabled_services", ["service"], if_not_exists=True
    )
    op.create_table(
        "registry_leases",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("lease_until", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("registry_leases")
    op.drop_table("registry_enabled_services")
    op.drop_table("registry_instances")
    op.drop_table("registry_service_versions")
    op.drop_table("registry_service_tags")
    op.drop_table("registry_services")
