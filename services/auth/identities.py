"""Who a user is, and where: the queries and rules every account module shares.

The model (docs/decisions.md, "People and tenants"):

- A user row is an *identity* (email, password, second factor, disabled,
  email verification) with a home tenant. Only the home tenant's
  administrators change it, or a platform administrator acting on the home
  tenant explicitly (audited there).
- Email is unique per home tenant, and members' emails are unique per tenant
  (``auth_memberships.email`` repeats the identity's; login is tenant + email).
  Nothing here ever looks a person up outside the calling tenant, so no answer
  can depend on what exists elsewhere.
- Other tenants hold memberships only (roles and tenant-local profile fields).
  A person joins another tenant by accepting an invitation, or by a platform
  administrator adding them explicitly. Identities homed in the platform tenant
  (the operators) never join another tenant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit
from services.auth.models import MembershipRow, ServiceAccountRow, SessionRow, UserRow
from services.auth.reasons import AuthReason
from services.auth.user_events import announce
from services.runtime.clock import utcnow
from services.runtime.context import PLATFORM_TENANT_ID, client_address_var
from services.runtime.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.mail.settings import parse_address

USER_SUBJECT_PREFIX = "user:"


def user_subject(user_id: str) -> str:
    return USER_SUBJECT_PREFIX + user_id


def service_account_subject(service_account_id: str) -> str:
    return f"service-account:{service_account_id}"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def mailable_email(email: str, field: str) -> str:
    """``email`` normalized, if mail can be sent to it; INVALID_ARGUMENT at ``field`` otherwise. The
    request's email rule admits addresses the mail queue refuses (``a@localhost``,
    ``a..b@example.com``), and a user, a new address or an invitation is mailed in its transaction."""
    normalized = normalize_email(email)
    try:
        parse_address(normalized)
    except ValueError:
        raise InvalidArgument(
            "mail cannot be sent to that address",
            violations=[FieldViolation(field, "must be a mail address with a domain, such as name@example.com")],
        ) from None
    return normalized


def roles_of(row: MembershipRow | ServiceAccountRow) -> list[str]:
    roles: list[str] = json.loads(row.roles_json)
    return roles


# -- queries (callers own the transaction) --------------------------------------------------------


async def get_user(session: AsyncSession, user_id: str) -> UserRow | None:
    return (await session.execute(select(UserRow).where(UserRow.user_id == user_id))).scalar_one_or_none()


async def get_membership(
    session: AsyncSession, tenant_id: str, user_id: str, *, for_update: bool = False
) -> MembershipRow | None:
    query = select(MembershipRow).where(MembershipRow.tenant_id == tenant_id, MembershipRow.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def end_sessions(session: AsyncSession, user_id: str, reason: str, *, tenant_id: str | None = None) -> None:
    """Revokes every open session of the user, in every tenant or only in ``tenant_id`` (the caller
    commits, then publishes ``revoke_subject`` so that live access tokens are refused too)."""
    query = update(SessionRow).where(SessionRow.subject == user_subject(user_id), SessionRow.revoke_time.is_(None))
    if tenant_id is not None:
        query = query.where(SessionRow.tenant_id == tenant_id)
    await session.execute(query.values(revoke_time=utcnow(), revoke_reason=reason))


async def find_member_by_email(
    session: AsyncSession, tenant_id: str, email: str
) -> tuple[UserRow, MembershipRow] | None:
    """The member of ``tenant_id`` with this email (home or not), None if the tenant has none."""
    query = (
        select(UserRow, MembershipRow)
        .join(MembershipRow, MembershipRow.user_id == UserRow.user_id)
        .where(MembershipRow.tenant_id == tenant_id, MembershipRow.email == normalize_email(email))
    )
    found = (await session.execute(query)).first()
    return None if found is None else (found[0], found[1])


async def email_taken_in_tenant(session: AsyncSession, tenant_id: str, email: str) -> bool:
    """Whether a member of the tenant, or an identity homed there, already uses the address."""
    email = normalize_email(email)
    member = await session.execute(
        select(MembershipRow.user_id).where(MembershipRow.tenant_id == tenant_id, MembershipRow.email == email)
    )
    if member.first() is not None:
        return True
    home = await session.execute(
        select(UserRow.user_id).where(
            UserRow.home_tenant_id == tenant_id, (UserRow.email == email) | (UserRow.pending_email == email)
        )
    )
    return home.first() is not None


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A membership as a tenant sees it."""

    membership: MembershipRow

    @property
    def email(self) -> str:
        return self.membership.email


@dataclass(frozen=True)
class TenantUser:
    """An identity as one tenant sees it: ``external`` when another tenant owns it."""

    user: UserRow
    tenant_id: str

    @property
    def external(self) -> bool:
        return self.user.home_tenant_id != self.tenant_id


# -- errors ---------------------------------------------------------------------------------------


def user_not_found() -> NotFound:
    return NotFound("no such user in this tenant", reason=AuthReason.USER_NOT_FOUND)


def membership_not_found() -> NotFound:
    return NotFound("no such member of this tenant", reason=AuthReason.MEMBERSHIP_NOT_FOUND)


def email_taken() -> AlreadyExists:
    return AlreadyExists("a member of this tenant uses this email", reason=AuthReason.USER_EMAIL_TAKEN)


def managed_elsewhere() -> FailedPrecondition:
    """A tenant acting on an identity it does not own. The person is visible in the tenant (a
    member), so saying so reveals nothing; which tenant owns it is not said."""
    return FailedPrecondition(
        "this user's account is managed by another tenant; only the membership can be changed here",
        reason=AuthReason.USER_MANAGED_ELSEWHERE,
    )


def require_home(user: UserRow, tenant_id: str) -> None:
    if user.home_tenant_id != tenant_id:
        raise managed_elsewhere()


def check_joinable(user: UserRow, tenant_id: str) -> None:
    """Operators and tenants' people never share a tenant: an identity homed in the platform tenant
    joins no other tenant, and the platform tenant's members are the identities homed there.

    The second rule keeps the platform out of any tenant's hands: a tenant's administrators set
    the passwords and second factors of the people homed in their tenant, so such a person holding
    a role in the platform tenant would give those administrators that role.
    """
    if user.home_tenant_id == tenant_id:
        return
    if is_platform_identity(user):
        raise FailedPrecondition(
            "platform operators' accounts cannot join a tenant", reason=AuthReason.PLATFORM_IDENTITY_NOT_JOINABLE
        )
    if tenant_id == PLATFORM_TENANT_ID:
        raise FailedPrecondition(
            "only accounts of the platform tenant are its members", reason=AuthReason.PLATFORM_TENANT_NOT_JOINABLE
        )


def is_platform_identity(user: UserRow) -> bool:
    return user.home_tenant_id == PLATFORM_TENANT_ID


def record(session: AsyncSession, action: str, tenant_id: str, target: str, **details: str) -> None:
    """An audit entry of the current call in ``tenant_id``, written with the caller's transaction."""
    audit.record(
        session, action, tenant_id=tenant_id, target=target, client_address=client_address_var.get(), details=details
    )
    announce(session, action, tenant_id, target)


def record_by_user(
    session: AsyncSession, action: str, tenant_id: str, user_id: str, target: str = "", **details: str
) -> None:
    """An audit entry of something a user did for themselves (a login step, accepting an invitation,
    a reset), where the call carries no principal yet: the user is the actor and, unless said, the target."""
    audit.record(
        session,
        action,
        tenant_id=tenant_id,
        actor=user_subject(user_id),
        target=target or user_subject(user_id),
        client_address=client_address_var.get(),
        details=details,
    )
    announce(session, action, tenant_id, user_subject(user_id))
