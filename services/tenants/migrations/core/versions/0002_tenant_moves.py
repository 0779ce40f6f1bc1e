"""Moving tenant databases between servers: the write freeze and the steps of each move.

Revision ID: tenants_core_0002
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db.resumable import column_guard

revision = "tenants_core_0002"
down_revision = "tenants_core_0001"
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("db_writes_frozen", sa.Boolean, nullable=False, server_default=sa.false()),
        if_not_exists=column_guard(),
    )
    op.create_table(
        "tenant_moves",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("source_server", sa.String(63), nullable=False),
        sa.Column("target_server", sa.String(63), nullable=False),
        sa.Column("db_name", sa.String(64), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("checksums_json", sa.Text, nullable=False),
        sa.Column("start_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("tenant_moves")
    op.drop_column("tenants", "db_writes_frozen")
