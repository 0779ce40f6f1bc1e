"""The tenant database's identity row.

Revision ID: tenants_tenant_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "tenants_tenant_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits DDL through op: may be rendered offline once and replayed per tenant
# (services.runtime.db.migrations). Set it only on revisions that never read the database.
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "tenant_identity",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("provision_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("tenant_identity")
