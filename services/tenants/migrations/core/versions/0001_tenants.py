"""Tenant records, labels and provisioning steps.

Revision ID: tenants_core_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "tenants_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(40), nullable=True, unique=True),
        sa.Column("former_slug", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("plan", sa.String(40), nullable=False),
        sa.Column("settings_json", sa.Text, nullable=False),
        sa.Column("db_server", sa.String(63), nullable=False),
        sa.Column("db_name", sa.String(64), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_request_id", sa.String(36), nullable=True, unique=True),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        sa.Column("delete_time", sa.DateTime, nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_tenants_state", "tenants", ["state"], if_not_exists=True)
    op.create_table(
        "tenant_labels",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("label_key", sa.String(63), primary_key=True),
        sa.Column("label_value", sa.String(63), nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_tenant_labels_key_value", "tenant_labels", ["label_key", "label_value"], if_not_exists=True)
    op.create_table(
        "tenant_provisioning_steps",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("step", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("schema_version", sa.String(64), nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("tenant_provisioning_steps")
    op.drop_table("tenant_labels")
    op.drop_table("tenants")
