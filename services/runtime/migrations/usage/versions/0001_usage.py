"""Per-tenant usage: calls and failed calls per tenant and hour.

Revision ID: usage_core_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "usage_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "tenant_usage_hourly",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("hour", sa.DateTime, primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("tenant_usage_hourly")
