"""Envelopes past 64 KiB on MySQL/MariaDB: BLOB holds no more, and an event may carry more (a
service's configuration schema); the insert failed with "data too long" (strict mode) or cut it.

Revision ID: outbox_core_0004
"""

from services.runtime.db.long_binary import widen_to_long_binary

revision = "outbox_core_0004"
down_revision = "outbox_core_0003"
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    widen_to_long_binary("event_outbox", "envelope")


def downgrade() -> None:
    pass  # a narrower column would cut the envelopes already stored
