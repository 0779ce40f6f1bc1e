"""Revocations still in force, for processes that start later when there is no Redis.

Revision ID: revocations_core_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "revocations_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("entry_key", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("revoked_key", sa.String(160), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("cutoff", sa.Double, nullable=False),
        sa.Column("expires", sa.Double, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_token_revocations_expires", "token_revocations", ["expires"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("token_revocations")
