"""When to look at an uploaded file again (expiry of uploads no submission took).

Revision ID: forms_files_core_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "forms_files_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "form_file_reminders",
        sa.Column("file_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("due_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_form_file_reminders_due", "form_file_reminders", ["due_time"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("form_file_reminders")
