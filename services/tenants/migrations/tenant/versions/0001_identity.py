"""The tenant database's identity row.

Revision ID: tenants_tenant_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "tenants_tenant_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_identity",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("provision_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("tenant_identity")
