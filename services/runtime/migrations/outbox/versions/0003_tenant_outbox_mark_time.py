"""When a tenant outbox was last marked: marks are renewed at most every few seconds and kept a
while (services.runtime.outbox), so busy tenants' writers do not all update one row.

Revision ID: outbox_core_0003
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db.resumable import column_guard

revision = "outbox_core_0003"
down_revision = "outbox_core_0002"
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    # Null for marks made before this column: old enough to be cleared after their drain.
    op.add_column(
        "event_outbox_tenants", sa.Column("mark_time", sa.DateTime, nullable=True), if_not_exists=column_guard()
    )


def downgrade() -> None:
    op.drop_column("event_outbox_tenants", "mark_time")
