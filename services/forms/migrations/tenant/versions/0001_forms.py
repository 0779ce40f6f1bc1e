"""Forms, their published versions, submissions with their filterable values and revisions, the audit log.

Revision ID: forms_tenant_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "forms_tenant_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits DDL through op: rendered offline once, replayed per tenant.
offline_safe = True

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


def upgrade() -> None:
    op.create_table(
        "forms",
        sa.Column("form_id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(127), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("labels_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owning_service", sa.String(63), nullable=False),
        sa.Column("contribution_hash", sa.String(64), nullable=False),
        sa.Column("draft_json", LongText, nullable=False),
        sa.Column("allow_edits", sa.Boolean, nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True, unique=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_forms_owning_service", "forms", ["owning_service"], if_not_exists=True)
    op.create_table(
        "form_versions",
        sa.Column("form_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition_json", LongText, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("compatibility_json", sa.Text, nullable=False),
        sa.Column("publisher", sa.String(200), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("form_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("answers_json", LongText, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitter", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("revision_count", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True, unique=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_submissions_form", "submissions", ["form_id", "submission_id"], if_not_exists=True)
    op.create_index("ix_submissions_submitter", "submissions", ["submitter", "submission_id"], if_not_exists=True)
    op.create_table(
        "submission_values",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("form_id", sa.String(36), nullable=False),
        sa.Column("value_text", sa.String(191), nullable=True),
        sa.Column("value_number", sa.Float, nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index(
        "ix_submission_values_text",
        "submission_values",
        ["form_id", "field", "value_text", "submission_id"],
        if_not_exists=True,
    )
    op.create_index(
        "ix_submission_values_number",
        "submission_values",
        ["form_id", "field", "value_number", "submission_id"],
        if_not_exists=True,
    )
    op.create_table(
        "submission_revisions",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("answers_json", LongText, nullable=False),
        sa.Column("editor", sa.String(200), nullable=False),
        sa.Column("replace_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "forms_audit",
        sa.Column("audit_id", sa.String(36), primary_key=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in ("forms_audit", "submission_revisions", "submission_values", "submissions", "form_versions", "forms"):
        op.drop_table(table)
