"""The durable outbound delivery queue (mail today; webhooks later).

Revision ID: delivery_core_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "delivery_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True

# Retry times need sub-second precision (short backoffs in tests, fair ordering under load).
PRECISE_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "delivery_jobs",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("topic", sa.String(120), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_time", PRECISE_TIME, nullable=False),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("payload", sa.LargeBinary(length=2**24 - 1), nullable=True),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("finish_time", sa.DateTime, nullable=True),
        sa.Column("dead_reason", sa.String(40), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_delivery_jobs_state_due", "delivery_jobs", ["state", "due_time"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("delivery_jobs")
