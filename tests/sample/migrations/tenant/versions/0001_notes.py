"""The notes table.

Revision ID: notes_tenant_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "notes_tenant_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits DDL through op: rendered offline once, replayed per tenant.
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("note_id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        # A re-run after a cut revision finds the table made (docs/adding-a-service.md).
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("notes")
