"""Files uploaded to answer FILE fields.

Revision ID: forms_tenant_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "forms_tenant_0002"
down_revision = "forms_tenant_0001"
branch_labels = None
depends_on = None
# Only emits DDL through op: rendered offline once, replayed per tenant.
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "form_files",
        sa.Column("file_id", sa.String(36), primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("uploaded_by", sa.String(120), nullable=False),
        sa.Column("submission_id", sa.String(36), nullable=True),
        sa.Column("expire_time", sa.DateTime, nullable=True),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_form_files_submission", "form_files", ["submission_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("form_files")
