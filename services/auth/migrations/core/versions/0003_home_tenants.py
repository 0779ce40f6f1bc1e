"""Identities get a home tenant; second factor, invitations and mailed tokens.

Users were platform-wide (email unique across the platform). Now every user
has a home tenant whose administrators alone manage the identity, and email is
unique per home tenant; memberships repeat the member's email so that members'
emails stay unique within each tenant (login is tenant + email).

Existing users are homed in the first tenant they became a member of (the
platform tenant for platform administrators, and for users without any
membership), by UPDATE statements, so that the revision also renders offline.
They keep their emails, which were unique everywhere, so no unique key can be
violated by the copy.

Revision ID: auth_core_0003
Revises: auth_core_0002
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from services.runtime.db.resumable import column_guard

revision = "auth_core_0003"
down_revision = "auth_core_0002"
branch_labels = None
depends_on = None
# Only emits statements through op (the homes are set by UPDATEs, not read into Python): may be
# rendered offline once and replayed (services.runtime.db.migrations).
offline_safe = True

PLATFORM_TENANT_ID = "00000000-0000-7000-8000-000000000001"


def _users_before() -> sa.Table:
    """auth_users as auth_core_0001 made it, minus the platform-wide unique email (SQLite copies from this)."""
    return sa.Table(
        "auth_users",
        sa.MetaData(),
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
    )


def upgrade() -> None:
    new_columns: list[sa.Column[Any]] = [
        # Every row gets its home below; a row written without one (a bug) belongs to no tenant.
        sa.Column("home_tenant_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("pending_email", sa.String(254), nullable=False, server_default=""),
    ]
    if op.get_context().dialect.name == "sqlite":
        # SQLite cannot drop the unnamed unique key in place: the table is copied without it.
        with op.batch_alter_table("auth_users", copy_from=_users_before(), recreate="always") as batch:
            for column in new_columns:
                batch.add_column(column)
    else:
        op.drop_index("email", "auth_users", if_exists=True)  # MySQL names an inline UNIQUE key after its column
        for column in new_columns:
            op.add_column("auth_users", column, if_not_exists=column_guard())

    # Typed, so that the statements render with literal values offline.
    users = sa.table(
        "auth_users",
        sa.column("user_id", sa.String),
        sa.column("home_tenant_id", sa.String),
        sa.column("email", sa.String),
    )
    members = sa.table(
        "auth_memberships",
        sa.column("tenant_id", sa.String),
        sa.column("user_id", sa.String),
        sa.column("roles_json", sa.Text),
        sa.column("create_time", sa.DateTime),
        sa.column("email", sa.String),
    )
    own = members.c.user_id == users.c.user_id
    # A platform administrator stays in the platform tenant (role names are lower-case slugs, so
    # the substring test means the same under MySQL's case-insensitive collation).
    platform_admin = (
        sa.select(members.c.user_id)
        .where(own, members.c.tenant_id == PLATFORM_TENANT_ID, sa.func.instr(members.c.roles_json, "platform-admin") > 0)
        .exists()
    )
    first_membership = (
        sa.select(members.c.tenant_id)
        .where(own)
        .order_by(members.c.create_time, members.c.tenant_id)
        .limit(1)
        .scalar_subquery()
    )
    # Each UPDATE sets what the rows say, so a re-run after a cut sets the same again.
    op.execute(sa.update(users).values(home_tenant_id=PLATFORM_TENANT_ID))  # re-runnable: no membership at all
    op.execute(  # re-runnable: the first membership
        sa.update(users)
        .where(sa.select(members.c.user_id).where(own).exists(), ~platform_admin)
        .values(home_tenant_id=first_membership)
    )

    op.add_column(
        "auth_memberships",
        sa.Column("email", sa.String(254), nullable=False, server_default=""),
        if_not_exists=column_guard(),
    )
    op.add_column(
        "auth_memberships",
        sa.Column("title", sa.String(200), nullable=False, server_default=""),
        if_not_exists=column_guard(),
    )
    op.execute(  # re-runnable: the member's email
        sa.update(members).values(email=sa.select(users.c.email).where(own).scalar_subquery())
    )
    op.create_index(
        "uq_auth_users_home_email",
        "auth_users",
        ["home_tenant_id", "email"],
        unique=True,
        if_not_exists=True,
    )
    op.create_index(
        "uq_auth_memberships_email",
        "auth_memberships",
        ["tenant_id", "email"],
        unique=True,
        if_not_exists=True,
    )

    op.create_table(
        "auth_totp",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("secret_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("confirm_time", sa.DateTime, nullable=True),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "auth_recovery_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("use_time", sa.DateTime, nullable=True),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_auth_recovery_codes_user", "auth_recovery_codes", ["user_id"], if_not_exists=True)
    op.create_table(
        "auth_mfa_challenges",
        sa.Column("challenge_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("tenant_reference", sa.String(64), nullable=False),
        sa.Column("enrolment_required", sa.Boolean, nullable=False),
        sa.Column("expire_time", sa.DateTime, nullable=False),
        sa.Column("use_time", sa.DateTime, nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "auth_mfa_policies",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("require_all", sa.Boolean, nullable=False),
        sa.Column("roles_json", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "auth_invitations",
        sa.Column("invitation_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("roles_json", sa.Text, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("inviter", sa.String(80), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("accepted_user_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("expire_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index(
        "ix_auth_invitations_tenant",
        "auth_invitations",
        ["tenant_id", "invitation_id"],
        if_not_exists=True,
    )
    op.create_table(
        "auth_user_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("expire_time", sa.DateTime, nullable=False),
        sa.Column("use_time", sa.DateTime, nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_auth_user_tokens_user", "auth_user_tokens", ["user_id", "purpose"], if_not_exists=True)


def downgrade() -> None:
    for table in (
        "auth_user_tokens",
        "auth_invitations",
        "auth_mfa_policies",
        "auth_mfa_challenges",
        "auth_recovery_codes",
        "auth_totp",
    ):
        op.drop_table(table)
    op.drop_index("uq_auth_memberships_email", "auth_memberships")
    op.drop_index("uq_auth_users_home_email", "auth_users")
    with op.batch_alter_table("auth_memberships") as batch:
        batch.drop_column("title")
        batch.drop_column("email")
    # Fails if two homes now share an email: they cannot go back to one platform-wide namespace.
    with op.batch_alter_table("auth_users") as batch:
        batch.drop_column("pending_email")
        batch.drop_column("email_verified")
        batch.drop_column("home_tenant_id")
        batch.create_unique_constraint("email", ["email"])
