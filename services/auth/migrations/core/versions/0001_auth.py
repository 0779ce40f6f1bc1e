"""Users, memberships, roles, service accounts, sessions, refresh tokens, signing keys, audit, throttle.

Revision ID: auth_core_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "auth_core_0001"
down_revision = None
branch_labels = None
depends_on = None
# Only emits statements through op: may be rendered offline once and replayed
# (services.runtime.db.migrations).
offline_safe = True


def upgrade() -> None:
    op.create_table(
        "auth_users",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("update_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "auth_memberships",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("roles_json", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_auth_memberships_user", "auth_memberships", ["user_id"], if_not_exists=True)
    op.create_table(
        "auth_roles",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("permissions_json", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "auth_service_accounts",
        sa.Column("service_account_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("roles_json", sa.Text, nullable=False),
        sa.Column("api_key_prefix", sa.String(16), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index(
        "uq_auth_service_accounts_name", "auth_service_accounts", ["tenant_id", "name"], unique=True, if_not_exists=True
    )
    op.create_table(
        "auth_sessions",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("expire_time", sa.DateTime, nullable=False),
        sa.Column("revoke_time", sa.DateTime, nullable=True),
        sa.Column("revoke_reason", sa.String(64), nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_auth_sessions_subject", "auth_sessions", ["subject", "tenant_id"], if_not_exists=True)
    op.create_table(
        "auth_refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("issue_time", sa.DateTime, nullable=False),
        sa.Column("use_time", sa.DateTime, nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index("ix_auth_refresh_tokens_session", "auth_refresh_tokens", ["session_id"], if_not_exists=True)
    op.create_table(
        "auth_signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_pem", sa.Text, nullable=False),
        sa.Column("private_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        sa.Column("retire_time", sa.DateTime, nullable=True),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_table(
        "auth_audit_events",
        sa.Column("audit_event_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("create_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )
    op.create_index(
        "ix_auth_audit_events_tenant", "auth_audit_events", ["tenant_id", "audit_event_id"], if_not_exists=True
    )
    op.create_table(
        "auth_login_throttle",
        sa.Column("throttle_key", sa.String(320), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime, nullable=True),
        sa.Column("last_failure_time", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in (
        "auth_login_throttle",
        "auth_audit_events",
        "auth_signing_keys",
        "auth_refresh_tokens",
        "auth_sessions",
        "auth_service_accounts",
        "auth_roles",
        "auth_memberships",
        "auth_users",
    ):
        op.drop_table(table)
