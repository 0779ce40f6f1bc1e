"""Custom entries name any form key the forms service allows (up to 127 characters, "<63>.<63>").

Revision ID: menus_tenant_0002
Revises: menus_tenant_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "menus_tenant_0002"
down_revision = "menus_tenant_0001"
branch_labels = None
depends_on = None
# Only emits DDL through op: rendered offline once, replayed per tenant.
offline_safe = True


def upgrade() -> None:
    # SQLite does not enforce a VARCHAR's length: only MariaDB's column needs widening.
    if op.get_context().dialect.name == "sqlite":
        return
    op.alter_column(  # re-runnable: widening a column to the width it has changes nothing
        "menu_custom_entries",
        "form_id",
        existing_type=sa.String(64),
        type_=sa.String(127),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        return
    op.alter_column(
        "menu_custom_entries",
        "form_id",
        existing_type=sa.String(127),
        type_=sa.String(64),
        existing_nullable=False,
    )
