"""Users of a tenant: the domain behind UserService.

CreateUser makes an identity homed in the calling tenant and its membership
there; it looks only inside the calling tenant, so its answer (and the work it
does) is the same whether or not the address is known anywhere else. Identity
fields (display name, email, disabled, second factor) change only through the
home tenant; other tenants see the person and manage the membership. Acting
on a person takes every permission they hold in the tenant (role_admin's
check_authority): whoever may set a password may otherwise become anyone.

Every operation is one transaction, audited inside it; revocations are
published after the commit (a failed publish fails the call, and a retry
publishes again).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.deps import AuthDeps
from services.auth.identities import (
    Member,
    TenantUser,
    email_taken,
    email_taken_in_tenant,
    end_sessions,
    get_membership,
    get_user,
    mailable_email,
    normalize_email,
    record,
    require_home,
    user_not_found,
    user_subject,
)
from services.auth.models import MembershipRow, RecoveryCodeRow, TotpRow, UserRow
from services.auth.password_reset import replace_password
from services.auth.passwords import check_policy, hash_password
from services.auth.role_admin import check_authority, check_grant, resolve_roles, role_names
from services.runtime.clock import utcnow
from services.runtime.context import Principal
from services.runtime.errors import Aborted, CommonReason, FieldViolation, InvalidArgument
from services.runtime.ids import uuid7
from services.runtime.paging import encode_token, page_request
from services.runtime.plain_text import check_plain_text
from services.runtime.resources import check_etag

USER_UPDATABLE_FIELDS = ("display_name", "email")


@dataclass(frozen=True)
class CreatedUser:
    user: TenantUser
    member: Member


@dataclass(frozen=True)
class UserPage:
    users: list[TenantUser]
    next_page_token: str


class Users:
    """Identities and their home memberships, acting for one tenant per call."""

    def __init__(self, deps: AuthDeps) -> None:
        self._deps = deps
        self._db = deps.db
        self._catalog = deps.roles
        self._revoker = deps.revoker
        self._profiles = deps.profiles

    async def create_user(
        self,
        tenant_id: str,
        *,
        email: str,
        password: str,
        display_name: str = "",
        roles: Sequence[str] = (),
        locale: str = "en",
        caller: Principal | None = None,
    ) -> CreatedUser:
        """A new identity homed in ``tenant_id`` and its membership there; ``caller`` (None for
        trusted code) must hold the roles it grants."""
        if not normalize_email(email):
            raise InvalidArgument(
                "a user needs an email", violations=[FieldViolation("user.email", "value is required")]
            )
        email = mailable_email(email, "user.email")
        check_plain_text(display_name, "user.display_name")
        check_policy(password, "password")
        names = role_names(roles)
        async with self._db.core_session() as session:
            # Cheap refusals before the deliberately slow hash; only this tenant is consulted.
            check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="roles"))
            if await email_taken_in_tenant(session, tenant_id, email):
                raise email_taken()
        password_hash = await hash_password(password)
        now = utcnow()
        user = UserRow(
            user_id=uuid7(),
            home_tenant_id=tenant_id,
            email=email,
            display_name=display_name or email,
            password_hash=password_hash,
            disabled=False,
            email_verified=False,
            pending_email="",
            revision=1,
            create_time=now,
            update_time=now,
        )
        membership = MembershipRow(
            tenant_id=tenant_id,
            user_id=user.user_id,
            email=email,
            roles_json=json.dumps(names),
            title="",
            revision=1,
            create_time=now,
        )
        try:
            async with self._db.core_session() as session:
                # Again, under lock: a role may have changed or gone while the password was hashed.
                check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="roles"))
                session.add(user)
                await session.flush()
                session.add(membership)
                record(session, "auth.user.created", tenant_id, user_subject(user.user_id), roles=",".join(names))
                await self._deps.verification.start(session, user, email, locale=locale)
                await session.commit()
        except IntegrityError:
            async with self._db.core_session() as session:
                if not await email_taken_in_tenant(session, tenant_id, email):
                    raise
            raise email_taken() from None
        return CreatedUser(user=TenantUser(user, tenant_id), member=Member(membership))

    async def get_user(self, tenant_id: str, user_id: str) -> TenantUser:
        async with self._db.core_session() as session:
            return TenantUser(await self._member_user(session, tenant_id, user_id), tenant_id)

    async def list_users(self, tenant_id: str, *, page_size: int, page_token: str) -> UserPage:
        """The tenant's members as users, in creation order (user ids are time-ordered)."""
        page, marker = page_request(page_size, page_token, "users", tenant_id)
        query = (
            select(UserRow)
            .join(MembershipRow, MembershipRow.user_id == UserRow.user_id)
            .where(MembershipRow.tenant_id == tenant_id)
            .order_by(UserRow.user_id)
            .limit(page.size + 1)
        )
        if page.after is not None:
            query = query.where(UserRow.user_id > page.after)
        async with self._db.core_session() as session:
            rows = list((await session.execute(query)).scalars())
        users = rows[: page.size]
        token = encode_token(users[-1].user_id, marker) if len(rows) > page.size else ""
        return UserPage(users=[TenantUser(u, tenant_id) for u in users], next_page_token=token)

    async def update_user(
        self,
        tenant_id: str,
        user_id: str,
        *,
        etag: str,
        mask: Sequence[str],
        display_name: str,
        email: str = "",
        caller: Principal | None = None,
    ) -> TenantUser:
        """Changes identity fields of a user homed in ``tenant_id``. A new email is pending until its
        owner confirms it from the message sent there; the old address is told."""
        if not mask or any(path not in USER_UPDATABLE_FIELDS for path in mask):
            raise InvalidArgument(
                "update_mask must name fields to change",
                violations=[FieldViolation("update_mask", f"paths must be among {', '.join(USER_UPDATABLE_FIELDS)}")],
            )
        if "display_name" in mask:
            check_plain_text(display_name, "user.display_name")
        email = normalize_email(email)
        if "email" in mask and not email:
            raise InvalidArgument("which address?", violations=[FieldViolation("user.email", "value is required")])
        if "email" in mask:
            email = mailable_email(email, "user.email")
        async with self._db.core_session() as session:
            user = await self._managed_user(session, tenant_id, user_id, caller)
            user_id = user.user_id  # as stored (MariaDB finds it in any case)
            check_etag(user.revision, etag, "user")
            values: dict[str, object] = {}
            if "display_name" in mask:
                values["display_name"] = display_name or user.email
            # The same pending address again sends its link again (a lost mail).
            new_email = "email" in mask and email != user.email
            if "email" in mask and email == user.email and user.pending_email:
                values["pending_email"] = ""  # back to the confirmed address: nothing pending
            if new_email and email != user.pending_email:
                # Only this tenant's members are consulted (the conflict is with someone visible here).
                if await email_taken_in_tenant(session, tenant_id, email):
                    raise email_taken()
                values["pending_email"] = email
            if values:
                await self._bump_user(session, user, **values)
            if new_email:
                await self._deps.verification.start(session, user, email, previous=user.email)
            record(session, "auth.user.updated", tenant_id, user_subject(user_id), fields=",".join(sorted(mask)))
            await session.commit()
        self._profiles.forget(user_id)
        return await self.get_user(tenant_id, user_id)

    async def disable_user(self, tenant_id: str, user_id: str, *, caller: Principal | None = None) -> TenantUser:
        """Disables a user homed in ``tenant_id`` and revokes their tokens in every tenant."""
        async with self._db.core_session() as session:
            user = await self._managed_user(session, tenant_id, user_id, caller)
            if not user.disabled:
                await self._bump_user(session, user, disabled=True)
                record(session, "auth.user.disabled", tenant_id, user_subject(user_id))
                await session.commit()
        self._profiles.forget(user_id)
        # Also when it was disabled already: a retry after a failed publish must still revoke.
        await self._revoker.revoke_subject(user_subject(user_id))
        return await self.get_user(tenant_id, user_id)

    async def set_password(
        self, tenant_id: str, user_id: str, password: str, *, caller: Principal | None = None
    ) -> TenantUser:
        """A new password for a user homed in ``tenant_id``; every session of theirs ends."""
        check_policy(password, "password")
        async with self._db.core_session() as session:
            # Refused before the deliberately slow hash, and checked again after it (roles may change meanwhile).
            await self._managed_user(session, tenant_id, user_id, caller)
        password_hash = await hash_password(password)
        async with self._db.core_session() as session:
            user = await self._managed_user(session, tenant_id, user_id, caller)
            await replace_password(session, user, password_hash, "PASSWORD_SET")
            record(session, "auth.user.password_set", tenant_id, user_subject(user_id))
            await session.commit()
        await self._revoker.revoke_subject(user_subject(user_id))
        return await self.get_user(tenant_id, user_id)

    async def reset_mfa(self, tenant_id: str, user_id: str, *, caller: Principal | None = None) -> TenantUser:
        """Removes the second factor of a user homed in ``tenant_id`` (audited): for a person who
        lost their device and their recovery codes. Every session of theirs ends: one opened
        with the old factor must not outlive it."""
        async with self._db.core_session() as session:
            user = await self._managed_user(session, tenant_id, user_id, caller)
            await end_sessions(session, user.user_id, "MFA_RESET")
            removed = await session.execute(delete(TotpRow).where(TotpRow.user_id == user_id))
            await session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
            record(
                session,
                "auth.mfa.reset",
                tenant_id,
                user_subject(user_id),
                had_factor=str(getattr(removed, "rowcount", 0) == 1).lower(),
            )
            await session.commit()
        await self._revoker.revoke_subject(user_subject(user_id))
        return TenantUser(user, tenant_id)

    async def _member_user(self, session: AsyncSession, tenant_id: str, user_id: str) -> UserRow:
        """The user, if a member of the tenant; anyone else does not exist as far as the tenant knows."""
        return (await self._member(session, tenant_id, user_id))[0]

    async def _member(self, session: AsyncSession, tenant_id: str, user_id: str) -> tuple[UserRow, MembershipRow]:
        membership = await get_membership(session, tenant_id, user_id) if user_id else None
        user = await get_user(session, user_id) if membership is not None else None
        if user is None or membership is None:
            raise user_not_found()
        return user, membership

    async def _managed_user(
        self, session: AsyncSession, tenant_id: str, user_id: str, caller: Principal | None
    ) -> UserRow:
        """The user, if homed in the tenant and holding no permission there that ``caller`` lacks."""
        user, membership = await self._member(session, tenant_id, user_id)
        require_home(user, tenant_id)
        await check_authority(session, self._catalog, caller, membership)
        return user

    async def _bump_user(self, session: AsyncSession, user: UserRow, **values: object) -> None:
        """Applies ``values`` only if nobody changed the user meanwhile."""
        result = await session.execute(
            update(UserRow)
            .where(UserRow.user_id == user.user_id, UserRow.revision == user.revision)
            .values(**values, revision=user.revision + 1, update_time=utcnow())
        )
        if getattr(result, "rowcount", 0) != 1:
            raise Aborted("the user changed concurrently; read it again", reason=CommonReason.ETAG_MISMATCH)
