"""Refresh tokens name the token they replaced; single use is a unique key.

A refresh writes one row, the next token with ``parent_hash`` = the token it
consumes. The unique key on ``parent_hash`` makes a second refresh with the same
token fail in the database, concurrent or not, so the consumed token itself is
no longer updated (``use_time`` stays for tokens consumed before this revision).

Revision ID: auth_core_0002
Revises: auth_core_0001
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db.resumable import column_guard

revision = "auth_core_0002"
down_revision = "auth_core_0001"
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.add_column(
        "auth_refresh_tokens", sa.Column("parent_hash", sa.String(64), nullable=True), if_not_exists=column_guard()
    )
    op.create_index(
        "uq_auth_refresh_tokens_parent", "auth_refresh_tokens", ["parent_hash"], unique=True, if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index("uq_auth_refresh_tokens_parent", "auth_refresh_tokens")
    op.drop_column("auth_refresh_tokens", "parent_hash")
