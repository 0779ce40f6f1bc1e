"""Invitations: the way a person joins a tenant with their consent.

A tenant administrator invites an address with roles (no more than they hold).
The invitation looks only at the tenant itself: its members (an address already
used there is MEMBERSHIP_EXISTS) and its pending invitations, never at other
tenants, so inviting any address gives the same answer, and the same work,
whatever exists elsewhere. The token (256 random bits, stored as SHA-256, single
use, expiring) goes to the address only. Its holder either

- accepts with a new account homed in the inviting tenant (the email counts as
  verified: the token reached it), or
- signs in with the account they have and accepts as themselves; that
  account's email must be the invited address, and operators' accounts
  (homed in the platform tenant) never join a tenant.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit, grantors, mail, mailed_tokens
from services.auth.deps import AuthDeps
from services.auth.identities import (
    check_joinable,
    email_taken,
    email_taken_in_tenant,
    get_membership,
    get_user,
    mailable_email,
    record,
    record_by_user,
)
from services.auth.models import INVITATION_PENDING, InvitationRow, MembershipRow, UserRow
from services.auth.passwords import check_policy, hash_password
from services.auth.reasons import AuthReason
from services.auth.role_admin import check_grant, resolve_roles, role_names, roles_defined
from services.auth.tokens import digest
from services.runtime.clock import utcnow
from services.runtime.context import Principal
from services.runtime.errors import AlreadyExists, FailedPrecondition, NotFound, ResourceExhausted
from services.runtime.ids import uuid7
from services.runtime.paging import encode_token, page_request
from services.runtime.plain_text import check_plain_text
from services.runtime.tenant_directory import TenantDirectory

PENDING, ACCEPTED, REVOKED = INVITATION_PENDING, "ACCEPTED", "REVOKED"
EXPIRED = "EXPIRED"  # shown, never stored: a pending invitation past its expiry
TOKEN_PREFIX = "tmi_"  # noqa: S105 - a marker, not a secret


def state_of(row: InvitationRow, now: datetime | None = None) -> str:
    if row.state == PENDING and row.expire_time < (now or utcnow()):
        return EXPIRED
    return row.state


def invitation_invalid() -> NotFound:
    return NotFound(
        "the invitation is not valid (used, withdrawn, expired or unknown)", reason=AuthReason.INVITATION_INVALID
    )


def _not_found() -> NotFound:
    return NotFound("no such invitation in this tenant", reason=AuthReason.INVITATION_NOT_FOUND)


def _exists() -> AlreadyExists:
    return AlreadyExists("a member of this tenant uses this address", reason=AuthReason.MEMBERSHIP_EXISTS)


@dataclass(frozen=True)
class InvitationPage:
    invitations: list[InvitationRow]
    next_page_token: str


@dataclass(frozen=True)
class InvitationView:
    """What a token holder may see: the tenant's slug and the roles."""

    tenant: str
    roles: list[str]
    expire_time: datetime


class Invitations:
    def __init__(self, deps: AuthDeps, tenants: TenantDirectory, ttl_seconds: float, resend_seconds: int) -> None:
        self._db = deps.db
        self._catalog = deps.roles
        self._tenants = tenants
        self._ttl = timedelta(seconds=ttl_seconds)
        self._resend_interval = timedelta(seconds=resend_seconds)

    # -- the tenant's side ---------------------------------------------------------------------

    async def create(
        self, tenant_id: str, *, email: str, roles: Sequence[str], locale: str, caller: Principal | None
    ) -> InvitationRow:
        email = mailable_email(email, "email")
        names = role_names(roles)
        now = utcnow()
        async with self._db.core_session() as session:
            check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="roles"))
            if await email_taken_in_tenant(session, tenant_id, email):
                raise _exists()
            pending = await session.execute(
                select(InvitationRow.invitation_id).where(
                    InvitationRow.tenant_id == tenant_id,
                    InvitationRow.email == email,
                    InvitationRow.state == PENDING,
                    InvitationRow.expire_time >= now,
                )
            )
            if pending.first() is not None:
                raise AlreadyExists("an invitation to this address is pending", reason=AuthReason.INVITATION_EXISTS)
            # Revoking and inviting again is another way to mail the address: the interval of
            # ResendInvitation holds between any two invitations of the tenant to it.
            last = await session.execute(
                select(InvitationRow.expire_time)
                .where(InvitationRow.tenant_id == tenant_id, InvitationRow.email == email)
                .order_by(InvitationRow.expire_time.desc())
                .limit(1)
            )
            self._check_interval(last.scalar_one_or_none())
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            row = InvitationRow(
                invitation_id=uuid7(),
                tenant_id=tenant_id,
                email=email,
                roles_json=json.dumps(names),
                token_hash=digest(token),
                inviter=audit.actor_of_current_call()[:80],
                state=PENDING,
                locale=locale or "en",
                accepted_user_id="",
                revision=1,
                create_time=now,
                expire_time=now + self._ttl,
            )
            session.add(row)
            await self._mail(session, row, token)
            target = f"invitation:{row.invitation_id}"
            record(session, "auth.invitation.created", tenant_id, target, roles=",".join(names))
            await session.commit()
        return row

    async def list(self, tenant_id: str, *, page_size: int, page_token: str) -> InvitationPage:
        page, marker = page_request(page_size, page_token, "invitations", tenant_id)
        query = (
            select(InvitationRow)
            .where(InvitationRow.tenant_id == tenant_id)
            .order_by(InvitationRow.invitation_id.desc())
            .limit(page.size + 1)
        )
        if page.after is not None:
            query = query.where(InvitationRow.invitation_id < page.after)
        async with self._db.core_session() as session:
            rows = list((await session.execute(query)).scalars())
        found = rows[: page.size]
        token = encode_token(found[-1].invitation_id, marker) if len(rows) > page.size else ""
        return InvitationPage(found, token)

    async def revoke(self, tenant_id: str, invitation_id: str) -> InvitationRow:
        async with self._db.core_session() as session:
            row = await self._row(session, tenant_id, invitation_id)
            if row.state != PENDING:
                raise FailedPrecondition("the invitation is not pending", reason=AuthReason.INVITATION_NOT_PENDING)
            row.state, row.revision = REVOKED, row.revision + 1
            record(session, "auth.invitation.revoked", tenant_id, f"invitation:{invitation_id}")
            await session.commit()
            return row

    async def resend(self, tenant_id: str, invitation_id: str) -> InvitationRow:
        """A new token and expiry for a pending (or expired) invitation, mailed again."""
        async with self._db.core_session() as session:
            row = await self._row(session, tenant_id, invitation_id)
            if row.state != PENDING:
                raise FailedPrecondition("the invitation is not pending", reason=AuthReason.INVITATION_NOT_PENDING)
            # A resend loop would mail whatever address the invitation names as often as it likes.
            self._check_interval(row.expire_time)
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            row.token_hash = digest(token)
            row.expire_time = utcnow() + self._ttl
            row.revision += 1
            await self._mail(session, row, token)
            record(session, "auth.invitation.resent", tenant_id, f"invitation:{invitation_id}")
            await session.commit()
            return row

    def _check_interval(self, last_expiry: datetime | None) -> None:
        """RESOURCE_EXHAUSTED while the last mail of an invitation whose expiry is ``last_expiry``
        is more recent than the resend interval (each send restarts the expiry: it was sent at
        expire_time - ttl)."""
        if last_expiry is None:
            return
        wait = (last_expiry - self._ttl + self._resend_interval - utcnow()).total_seconds()
        if wait > 0:
            interval = self._resend_interval.total_seconds()
            raise ResourceExhausted(
                f"this address was invited less than {interval:g} s ago; try again later",
                reason=AuthReason.INVITATION_RESENT_RECENTLY,
                retry_after=wait,
            )

    async def _row(self, session: AsyncSession, tenant_id: str, invitation_id: str) -> InvitationRow:
        query = (
            select(InvitationRow)
            .where(InvitationRow.tenant_id == tenant_id, InvitationRow.invitation_id == invitation_id)
            .with_for_update()
        )
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            raise _not_found()
        return row

    async def _mail(self, session: AsyncSession, row: InvitationRow, token: str) -> None:
        mail.send(
            session,
            "invitation",
            row.email,
            {
                "tenant": await self._tenant_name(row.tenant_id),
                "roles": ", ".join(json.loads(row.roles_json)),
                "token": token,
                "expires": mailed_tokens.expiry_text(row.expire_time),
            },
            locale=row.locale,
            tenant_id=row.tenant_id,
        )

    async def _tenant_name(self, tenant_id: str) -> str:
        tenant = await self._tenants.lookup(tenant_id)
        return tenant.slug if tenant is not None else ""

    # -- the token holder's side ---------------------------------------------------------------

    async def inspect(self, token: str) -> InvitationView:
        row = await self._usable(token)
        return InvitationView(await self._tenant_name(row.tenant_id), json.loads(row.roles_json), row.expire_time)

    async def _usable(self, token: str) -> InvitationRow:
        """The pending invitation of ``token``, if its tenant still takes people (active) and its
        inviter still holds what it grants."""
        async with self._db.core_session() as session:
            row = await self._pending(session, token, lock=False)
            await self._check_inviter(session, row)
        tenant = await self._tenants.lookup(row.tenant_id)
        if tenant is None or tenant.state != "ACTIVE":
            raise invitation_invalid()
        return row

    async def accept_new(self, token: str, *, password: str, display_name: str) -> tuple[str, str]:
        """A new identity homed in the inviting tenant; returns (user id, tenant id)."""
        check_plain_text(display_name, "display_name")
        check_policy(password, "password")
        await self._usable(token)
        password_hash = await hash_password(password)
        now = utcnow()
        try:
            async with self._db.core_session() as session:
                row = await self._pending(session, token)
                if await email_taken_in_tenant(session, row.tenant_id, row.email):
                    raise email_taken()
                user = UserRow(
                    user_id=uuid7(),
                    home_tenant_id=row.tenant_id,
                    email=row.email,
                    display_name=display_name or row.email,
                    password_hash=password_hash,
                    disabled=False,
                    email_verified=True,
                    pending_email="",
                    revision=1,
                    create_time=now,
                    update_time=now,
                )
                session.add(user)
                await session.flush()
                await self._join(session, row, user)
                record_by_user(
                    session, "auth.invitation.accepted", row.tenant_id, user.user_id, self._target(row), account="new"
                )
                await session.commit()
        except IntegrityError:
            raise email_taken() from None
        return user.user_id, row.tenant_id

    async def accept_as(self, token: str, principal: Principal) -> str:
        """The caller's own identity joins the inviting tenant; returns the tenant id."""
        kind, _, user_id = principal.subject.partition(":")
        await self._usable(token)
        try:
            async with self._db.core_session() as session:
                row = await self._pending(session, token)
                user = await get_user(session, user_id) if kind == "user" else None
                if user is None or user.email != row.email:
                    raise FailedPrecondition(
                        "the invitation was sent to another address than this account's",
                        reason=AuthReason.INVITATION_EMAIL_MISMATCH,
                    )
                check_joinable(user, row.tenant_id)
                if await get_membership(session, row.tenant_id, user.user_id) is not None:
                    raise AlreadyExists("already a member of this tenant", reason=AuthReason.MEMBERSHIP_EXISTS)
                if await email_taken_in_tenant(session, row.tenant_id, user.email):
                    raise email_taken()
                await self._join(session, row, user)
                record_by_user(
                    session,
                    "auth.invitation.accepted",
                    row.tenant_id,
                    user.user_id,
                    self._target(row),
                    account="existing",
                )
                await session.commit()
        except IntegrityError:
            raise AlreadyExists("already a member of this tenant", reason=AuthReason.MEMBERSHIP_EXISTS) from None
        return row.tenant_id

    @staticmethod
    def _target(row: InvitationRow) -> str:
        return f"invitation:{row.invitation_id}"

    async def _join(self, session: AsyncSession, row: InvitationRow, user: UserRow) -> None:
        # A role deleted since the invitation was made (DeleteRole refuses while one is pending, so
        # only invitations older than that rule) must not become a membership nobody can log in with.
        if not await roles_defined(session, self._catalog, row.tenant_id, json.loads(row.roles_json)):
            raise invitation_invalid()
        await self._check_inviter(session, row)
        session.add(
            MembershipRow(
                tenant_id=row.tenant_id,
                user_id=user.user_id,
                email=user.email,
                roles_json=row.roles_json,
                title="",
                revision=1,
                create_time=utcnow(),
            )
        )
        row.state, row.accepted_user_id, row.revision = ACCEPTED, user.user_id, row.revision + 1

    async def _check_inviter(self, session: AsyncSession, row: InvitationRow) -> None:
        """The invitation is granted when it is accepted, so by whom the inviter is then: one demoted,
        removed or disabled since made no tenant administrators with the invitations they had sent."""
        granted = await self._catalog.held_permissions(session, row.tenant_id, json.loads(row.roles_json))
        if not await grantors.still_holds(session, self._catalog, row.tenant_id, row.inviter, granted):
            raise invitation_invalid()

    async def _pending(self, session: AsyncSession, token: str, *, lock: bool = True) -> InvitationRow:
        query = select(InvitationRow).where(InvitationRow.token_hash == digest(token))
        if lock:
            query = query.with_for_update()
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None or state_of(row) != PENDING:
            raise invitation_invalid()
        return row
