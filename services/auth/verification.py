"""Email verification: on creation, and for a new address the home tenant sets.

A new address is kept as the identity's ``pending_email`` (login keeps the old
one) until its owner follows the link mailed to it; the old address is told.
Confirming replaces the email everywhere the person is a member. Should a
tenant the person belongs to already have another member with that address,
confirming is refused (USER_EMAIL_TAKEN) and nothing changes: the person asking
is the owner of the address, and members' emails must stay unique per tenant.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import mail, mailed_tokens
from services.auth.identities import email_taken, record_by_user
from services.auth.models import MembershipRow, UserRow
from services.auth.profiles import UserProfiles
from services.auth.reasons import AuthReason
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.errors import NotFound
from services.runtime.tenant_directory import TenantDirectory


def token_invalid() -> NotFound:
    return NotFound("the link is not valid (used, expired or unknown)", reason=AuthReason.EMAIL_TOKEN_INVALID)


class EmailVerification:
    def __init__(
        self, db: DatabaseRouter, tenants: TenantDirectory, profiles: UserProfiles, ttl_seconds: float
    ) -> None:
        self._db = db
        self._tenants = tenants
        self._profiles = profiles
        self._ttl = ttl_seconds

    async def tenant_name(self, tenant_id: str) -> str:
        tenant = await self._tenants.lookup(tenant_id)
        return tenant.slug if tenant is not None else ""

    async def start(
        self, session: AsyncSession, user: UserRow, email: str, *, locale: str = "en", previous: str = ""
    ) -> None:
        """Mails a verification link to ``email`` (and, for a change, a notice to ``previous``)."""
        token, expires = await mailed_tokens.issue(session, user.user_id, mailed_tokens.VERIFY_EMAIL, email, self._ttl)
        tenant = await self.tenant_name(user.home_tenant_id)
        params = {"name": user.display_name, "email": email, "tenant": tenant}
        mail.send(
            session,
            "verify_email",
            email,
            {**params, "token": token, "expires": mailed_tokens.expiry_text(expires)},
            locale=locale,
            tenant_id=user.home_tenant_id,
        )
        if previous:
            mail.send(
                session,
                "email_change_notice",
                previous,
                {"name": user.display_name, "tenant": tenant, "new_email": mail.masked(email)},
                locale=locale,
                tenant_id=user.home_tenant_id,
            )

    async def verify(self, token: str) -> None:
        async with self._db.core_session() as session:
            row = await mailed_tokens.spend(session, token, mailed_tokens.VERIFY_EMAIL)
            user = await session.get(UserRow, row.user_id, with_for_update=True) if row is not None else None
            if row is None or user is None or row.email not in (user.email, user.pending_email):
                raise token_invalid()
            changed = row.email != user.email
            try:
                await session.execute(
                    update(UserRow)
                    .where(UserRow.user_id == user.user_id)
                    .values(
                        email=row.email,
                        pending_email="",
                        email_verified=True,
                        revision=UserRow.revision + 1,
                        update_time=utcnow(),
                    )
                )
                if changed:
                    # Every tenant the person belongs to; a tenant with another member using the
                    # address refuses it by its unique key, and the whole confirmation rolls back.
                    await session.execute(
                        update(MembershipRow).where(MembershipRow.user_id == user.user_id).values(email=row.email)
                    )
                action = "auth.user.email_changed" if changed else "auth.user.email_verified"
                record_by_user(session, action, user.home_tenant_id, user.user_id)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                raise email_taken() from None
        self._profiles.forget(user.user_id)
