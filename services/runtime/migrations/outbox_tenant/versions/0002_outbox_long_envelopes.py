"""Envelopes past 64 KiB on MySQL/MariaDB, as in the core outbox (outbox_core_0004).

Revision ID: outbox_tenant_0002
"""

from services.runtime.db.long_binary import widen_to_long_binary

revision = "outbox_tenant_0002"
down_revision = "outbox_tenant_0001"
branch_labels = None
depends_on = None
# Only emits DDL through op: may be rendered offline once and replayed per tenant
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    widen_to_long_binary("event_outbox", "envelope")


def downgrade() -> None:
    pass  # a narrower column would cut the envelopes already stored
