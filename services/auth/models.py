"""Tables of the auth service (all in the core database).

Secrets are never stored as given: passwords as argon2id hashes, refresh
tokens and API keys as SHA-256 digests (they are long random strings, so a
fast hash is enough), signing keys' private parts encrypted with the key
encryption key from configuration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class AuthBase(DeclarativeBase):
    metadata = MetaData()


class UserRow(AuthBase):
    """An identity. It belongs to its home tenant, whose administrators alone manage it; other
    tenants hold only memberships. Email is unique per home tenant, not platform-wide."""

    __tablename__ = "auth_users"
    __table_args__ = (Index("uq_auth_users_home_email", "home_tenant_id", "email", unique=True),)

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    home_tenant_id: Mapped[str] = mapped_column(String(36))
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # An address the home tenant set that its owner has not confirmed yet.
    pending_email: Mapped[str] = mapped_column(String(254), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


class MembershipRow(AuthBase):
    """A user's place in one tenant. ``email`` repeats the identity's (kept in step when it
    changes) so that the database keeps members' emails unique per tenant: login is tenant + email."""

    __tablename__ = "auth_memberships"
    __table_args__ = (
        Index("ix_auth_memberships_user", "user_id"),
        Index("uq_auth_memberships_email", "tenant_id", "email", unique=True),
    )

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    roles_json: Mapped[str] = mapped_column(Text)
    # Tenant-local profile: the tenant's own administrators edit it, whoever owns the identity.
    title: Mapped[str] = mapped_column(String(200), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    create_time: Mapped[datetime] = mapped_column(DateTime)


class RoleRow(AuthBase):
    """A tenant's custom role (built-in roles live in code)."""

    __tablename__ = "auth_roles"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(500))
    permissions_json: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class ServiceAccountRow(AuthBase):
    __tablename__ = "auth_service_accounts"
    __table_args__ = (Index("uq_auth_service_accounts_name", "tenant_id", "name", unique=True),)

    service_account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(63))
    roles_json: Mapped[str] = mapped_column(Text)
    api_key_prefix: Mapped[str] = mapped_column(String(16))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    create_time: Mapped[datetime] = mapped_column(DateTime)


class SessionRow(AuthBase):
    """A login: the family of every refresh token issued for it."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_subject", "subject", "tenant_id"),)

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(String(36))
    create_time: Mapped[datetime] = mapped_column(DateTime)
    expire_time: Mapped[datetime] = mapped_column(DateTime)
    revoke_time: Mapped[datetime | None] = mapped_column(DateTime)
    revoke_reason: Mapped[str] = mapped_column(String(64), default="")


class RefreshTokenRow(AuthBase):
    """One refresh token of a session; ``parent_hash`` is the token it replaced (unique: single use)."""

    __tablename__ = "auth_refresh_tokens"
    __table_args__ = (
        Index("ix_auth_refresh_tokens_session", "session_id"),
        Index("uq_auth_refresh_tokens_parent", "parent_hash", unique=True),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36))
    issue_time: Mapped[datetime] = mapped_column(DateTime)
    # Only set on tokens consumed before parent_hash existed (auth_core_0002).
    use_time: Mapped[datetime | None] = mapped_column(DateTime)
    parent_hash: Mapped[str | None] = mapped_column(String(64), default=None)


class SigningKeyRow(AuthBase):
    __tablename__ = "auth_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_pem: Mapped[str] = mapped_column(Text)
    private_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    # Set when a newer key takes over signing.
    retire_time: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEventRow(AuthBase):
    __tablename__ = "auth_audit_events"
    __table_args__ = (Index("ix_auth_audit_events_tenant", "tenant_id", "audit_event_id"),)

    audit_event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), default="")
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(120), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")
    request_id: Mapped[str] = mapped_column(String(128), default="")
    details_json: Mapped[str] = mapped_column(Text, default="{}")
    create_time: Mapped[datetime] = mapped_column(DateTime)


class TotpRow(AuthBase):
    """A user's TOTP second factor (RFC 6238). The secret is sealed with the key-encryption key;
    ``last_step`` is the last time step a code was accepted for, so no code works twice."""

    __tablename__ = "auth_totp"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # None until the first code confirmed the enrolment.
    confirm_time: Mapped[datetime | None] = mapped_column(DateTime)
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    create_time: Mapped[datetime] = mapped_column(DateTime)


class RecoveryCodeRow(AuthBase):
    """One single-use recovery code of a user, as its SHA-256 digest."""

    __tablename__ = "auth_recovery_codes"
    __table_args__ = (Index("ix_auth_recovery_codes_user", "user_id"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    use_time: Mapped[datetime | None] = mapped_column(DateTime)
    create_time: Mapped[datetime] = mapped_column(DateTime)


class MfaChallengeRow(AuthBase):
    """A password login waiting for its second factor: short-lived, single use, stored hashed."""

    __tablename__ = "auth_mfa_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str] = mapped_column(String(36))
    # The throttle key of the login, so wrong codes count against it like wrong passwords.
    tenant_reference: Mapped[str] = mapped_column(String(64))
    enrolment_required: Mapped[bool] = mapped_column(Boolean, default=False)
    expire_time: Mapped[datetime] = mapped_column(DateTime)
    use_time: Mapped[datetime | None] = mapped_column(DateTime)


class MfaPolicyRow(AuthBase):
    """When a tenant requires a second factor: for everyone, or for holders of some roles."""

    __tablename__ = "auth_mfa_policies"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    require_all: Mapped[bool] = mapped_column(Boolean, default=False)
    roles_json: Mapped[str] = mapped_column(Text, default="[]")
    revision: Mapped[int] = mapped_column(Integer, default=1)


# An invitation's stored state (expiry is read from expire_time: services/auth/invitations.py).
INVITATION_PENDING = "PENDING"


class InvitationRow(AuthBase):
    """An invitation of an email address into a tenant with roles; its token is stored hashed."""

    __tablename__ = "auth_invitations"
    __table_args__ = (Index("ix_auth_invitations_tenant", "tenant_id", "invitation_id"),)

    invitation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    email: Mapped[str] = mapped_column(String(254))
    roles_json: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    inviter: Mapped[str] = mapped_column(String(80))
    # PENDING, ACCEPTED, REVOKED (expiry is read from expire_time).
    state: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    accepted_user_id: Mapped[str] = mapped_column(String(36), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    expire_time: Mapped[datetime] = mapped_column(DateTime)


class UserTokenRow(AuthBase):
    """A single-use token mailed to a user: email verification or password reset (SHA-256 digest)."""

    __tablename__ = "auth_user_tokens"
    __table_args__ = (Index("ix_auth_user_tokens_user", "user_id", "purpose"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(16))  # VERIFY_EMAIL, RESET_PASSWORD
    # The address the token was sent to (a verification confirms exactly this address).
    email: Mapped[str] = mapped_column(String(254))
    create_time: Mapped[datetime] = mapped_column(DateTime)
    expire_time: Mapped[datetime] = mapped_column(DateTime)
    use_time: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottleRow(AuthBase):
    """Failed logins per key ("account:<tenant>:<email>" or "address:<ip>")."""

    __tablename__ = "auth_login_throttle"

    throttle_key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_failure_time: Mapped[datetime] = mapped_column(DateTime)
