"""Webhooks and their delivery log.

Revision ID: webhooks_core_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "webhooks_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True

LongBlob = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql")


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", sa.Text, nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("secret", sa.LargeBinary(255), nullable=False),
        sa.Column("previous_secret", sa.LargeBinary(255), nullable=True),
        sa.Column("previous_secret_expire_time", sa.DateTime, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_webhooks_tenant", "webhooks", ["tenant_id", "webhook_id"], if_not_exists=True)
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("dedup_key", sa.String(80), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("replay_of", sa.String(36), nullable=True),
        sa.Column("body", LongBlob, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("last_status_code", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("last_attempt_time", sa.DateTime, nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index(
        "ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "delivery_id"], if_not_exists=True
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
