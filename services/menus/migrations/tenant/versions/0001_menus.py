"""The menu overrides and custom entries of a tenant.

Revision ID: menus_tenant_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "menus_tenant_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits DDL through op: rendered offline once, replayed per tenant.
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "menu_overrides",
        sa.Column("entry_key", sa.String(200), primary_key=True),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("label_translations_json", sa.Text, nullable=False),
        sa.Column("icon", sa.String(64), nullable=True),
        sa.Column("position", sa.Integer, nullable=True),
        sa.Column("parent", sa.String(200), nullable=True),
        sa.Column("hidden", sa.Boolean, nullable=True),
        sa.Column("required_permission", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "menu_custom_entries",
        sa.Column("entry_id", sa.String(63), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("label_translations_json", sa.Text, nullable=False),
        sa.Column("icon", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("parent", sa.String(200), nullable=False),
        sa.Column("route", sa.String(500), nullable=False),
        sa.Column("external_url", sa.String(2000), nullable=False),
        sa.Column("form_id", sa.String(64), nullable=False),
        sa.Column("required_permission", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True, unique=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("menu_custom_entries")
    op.drop_table("menu_overrides")
