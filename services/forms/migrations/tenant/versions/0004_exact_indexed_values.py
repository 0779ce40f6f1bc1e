"""Filterable answers are indexed exactly: numbers as doubles, text compared byte for byte.

``submission_values.value_number`` was ``sa.Float``, which MariaDB makes a single-precision
FLOAT: 16777217 was kept as 16777216 and 0.1 as 0.100000001490116, so ``answers.age = 16777217``
or ``answers.price = 0.1`` found nothing. ``value_text`` took the database's collation
(utf8mb4_general_ci), so ``answers.name = "ADA"`` found "Ada", "Adà" and "Ada  ", where SQLite,
like the forms engine, compares exactly; utf8mb4_nopad_bin compares bytes, trailing spaces
included. SQLite keeps REAL (a double) and compares text by bytes already: nothing changes there.

The numbers already stored are read again from the submissions' answers, where they are exact.

Revision ID: forms_tenant_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "forms_tenant_0004"
down_revision = "forms_tenant_0003"
branch_labels = None
depends_on = None
# Only emits DDL and an UPDATE through op: rendered offline once, replayed per tenant.
offline_safe = True

_REREAD_NUMBERS = """
UPDATE submission_values v JOIN submissions s ON s.submission_id = v.submission_id
SET v.value_number = CAST(JSON_VALUE(s.answers_json, CONCAT('$."', v.field, '"')) AS DOUBLE)
WHERE v.value_number IS NOT NULL
"""


def upgrade() -> None:
    if op.get_context().dialect.name != "mysql":
        return
    op.alter_column(  # re-runnable: sets the type the column has after a first run
        "submission_values", "value_number", type_=mysql.DOUBLE(), existing_type=sa.Float(), existing_nullable=True
    )
    op.alter_column(  # re-runnable: sets the collation the column has after a first run
        "submission_values",
        "value_text",
        type_=mysql.VARCHAR(191, charset="utf8mb4", collation="utf8mb4_nopad_bin"),
        existing_type=sa.String(191),
        existing_nullable=True,
    )
    op.execute(_REREAD_NUMBERS)  # re-runnable: sets what the stored answers say


def downgrade() -> None:
    if op.get_context().dialect.name != "mysql":
        return
    op.alter_column(
        "submission_values", "value_text", type_=sa.String(191), existing_type=sa.String(191), existing_nullable=True
    )
    op.alter_column(
        "submission_values", "value_number", type_=sa.Float(), existing_type=mysql.DOUBLE(), existing_nullable=True
    )
