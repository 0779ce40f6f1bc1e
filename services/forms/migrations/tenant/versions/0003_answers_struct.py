"""Submissions keep their answers also as a serialized google.protobuf.Struct.

Existing rows are not backfilled: a submission without it is read from answers_json, as before
(services/forms/stored_answers.py), so the upgrade stays DDL only, rendered once and replayed.

Revision ID: forms_tenant_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from services.runtime.db.resumable import column_guard

revision = "forms_tenant_0003"
down_revision = "forms_tenant_0002"
branch_labels = None
depends_on = None
# Only emits DDL through op: rendered offline once, replayed per tenant.
offline_safe = True

LongBinary = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql")


def upgrade() -> None:
    op.add_column("submissions", sa.Column("answers_struct", LongBinary, nullable=True), if_not_exists=column_guard())


def downgrade() -> None:
    op.drop_column("submissions", "answers_struct")
