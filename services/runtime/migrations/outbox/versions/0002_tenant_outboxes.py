"""Tenant databases whose own outbox holds events to relay.

Revision ID: outbox_core_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "outbox_core_0002"
down_revision = "outbox_core_0001"
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "event_outbox_tenants",
        sa.Column("db_server", sa.String(63), primary_key=True),
        sa.Column("db_name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("event_outbox_tenants")
