"""Only identities homed in the platform tenant remain its members.

A tenant's administrators set the password and second factor of every identity homed in their
tenant, so such an identity holding a role in the platform tenant hands that role to them
(identities.check_joinable refuses such a membership from now on). Two kinds were made before the
rule: auth_core_0003 homed each user in the first tenant they had joined, so a person who joined
a tenant and then the platform tenant (without being a platform administrator) kept both; and a
platform administrator could add a tenant's person to the platform tenant.

Those platform memberships are removed, and the person's open sessions in the platform tenant
are ended: their refresh tokens stop working at once (a refresh looks up the membership), and an
access token already issued lapses within its lifetime. The person keeps their home and every
other membership; an operator who still needs them gets an account homed in the platform tenant.

Revision ID: auth_core_0004
Revises: auth_core_0003
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "auth_core_0004"
down_revision = "auth_core_0003"
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed.
offline_safe = True

PLATFORM_TENANT_ID = "00000000-0000-7000-8000-000000000001"


def upgrade() -> None:
    users = sa.table("auth_users", sa.column("user_id", sa.String), sa.column("home_tenant_id", sa.String))
    members = sa.table("auth_memberships", sa.column("tenant_id", sa.String), sa.column("user_id", sa.String))
    sessions = sa.table(
        "auth_sessions",
        sa.column("subject", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("revoke_time", sa.DateTime),
        sa.column("revoke_reason", sa.String),
    )
    homed_elsewhere = sa.select(users.c.user_id).where(users.c.home_tenant_id != PLATFORM_TENANT_ID)
    # Sessions first: they are found through the memberships about to go.
    op.execute(  # re-runnable: a second run finds no open session of such a membership
        sa.update(sessions)
        .where(
            sessions.c.tenant_id == PLATFORM_TENANT_ID,
            sessions.c.revoke_time.is_(None),
            sessions.c.subject.in_(
                sa.select(sa.literal("user:") + members.c.user_id).where(
                    members.c.tenant_id == PLATFORM_TENANT_ID, members.c.user_id.in_(homed_elsewhere)
                )
            ),
        )
        .values(revoke_time=datetime.now(UTC).replace(tzinfo=None, microsecond=0), revoke_reason="MEMBERSHIP_REMOVED")
    )
    op.execute(  # re-runnable: a second run finds no such membership left
        sa.delete(members).where(members.c.tenant_id == PLATFORM_TENANT_ID, members.c.user_id.in_(homed_elsewhere))
    )


def downgrade() -> None:
    # The removed memberships are not brought back: they were the defect.
    pass
