"""Memberships of a tenant: the domain behind MembershipService.

A tenant's administrators change what the membership holds (roles, the
tenant-local title) and remove members, never the identity behind it. Only a
platform administrator adds an existing identity to a tenant directly
(``auth.memberships.create`` is held by no tenant role; audited in the tenant);
everyone else joins through an invitation they accept themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from services.auth.deps import AuthDeps
from services.auth.identities import (
    Member,
    check_joinable,
    email_taken,
    email_taken_in_tenant,
    end_sessions,
    get_membership,
    get_user,
    membership_not_found,
    record,
    roles_of,
    user_subject,
)
from services.auth.models import MembershipRow
from services.auth.reasons import AuthReason
from services.auth.role_admin import check_authority, check_grant, resolve_roles, role_names
from services.runtime.clock import utcnow
from services.runtime.context import Principal
from services.runtime.errors import (
    Aborted,
    AlreadyExists,
    CommonReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from services.runtime.paging import encode_token, page_request
from services.runtime.resources import check_etag

MEMBERSHIP_UPDATABLE_FIELDS = ("roles", "title")


@dataclass(frozen=True)
class MemberPage:
    members: list[Member]
    next_page_token: str


def _exists() -> AlreadyExists:
    return AlreadyExists("already a member of this tenant", reason=AuthReason.MEMBERSHIP_EXISTS)


class Memberships:
    def __init__(self, deps: AuthDeps) -> None:
        self._db = deps.db
        self._catalog = deps.roles
        self._revoker = deps.revoker

    async def add_membership(
        self, tenant_id: str, *, user_id: str, roles: Sequence[str] = (), caller: Principal | None = None
    ) -> Member:
        """A platform administrator's explicit, audited grant of a membership to an existing identity."""
        if not user_id:
            raise InvalidArgument("which user?", violations=[FieldViolation("user_id", "value is required")])
        names = role_names(roles)
        try:
            async with self._db.core_session() as session:
                user = await get_user(session, user_id)
                if user is None:
                    raise NotFound("no such user", reason=AuthReason.USER_NOT_FOUND)
                check_joinable(user, tenant_id)
                check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="roles"))
                if await get_membership(session, tenant_id, user_id) is not None:
                    raise _exists()
                if await email_taken_in_tenant(session, tenant_id, user.email):
                    raise email_taken()
                membership = MembershipRow(
                    tenant_id=tenant_id,
                    user_id=user_id,
                    email=user.email,
                    roles_json=json.dumps(names),
                    title="",
                    revision=1,
                    create_time=utcnow(),
                )
                session.add(membership)
                record(
                    session,
                    "auth.membership.added",
                    tenant_id,
                    user_subject(user_id),
                    roles=",".join(names),
                    via="platform-admin",
                )
                await session.commit()
        except IntegrityError:
            # A concurrent add of the same member (or of the same email) won.
            raise _exists() from None
        return Member(membership)

    async def list_memberships(self, tenant_id: str, *, page_size: int, page_token: str) -> MemberPage:
        """The tenant's memberships in user id order."""
        page, marker = page_request(page_size, page_token, "memberships", tenant_id)
        query = (
            select(MembershipRow)
            .where(MembershipRow.tenant_id == tenant_id)
            .order_by(MembershipRow.user_id)
            .limit(page.size + 1)
        )
        if page.after is not None:
            query = query.where(MembershipRow.user_id > page.after)
        async with self._db.core_session() as session:
            rows = [Member(m) for m in (await session.execute(query)).scalars()]
        members = rows[: page.size]
        token = encode_token(members[-1].membership.user_id, marker) if len(rows) > page.size else ""
        return MemberPage(members=members, next_page_token=token)

    async def update_membership(
        self,
        tenant_id: str,
        user_id: str,
        *,
        etag: str,
        roles: Sequence[str],
        title: str = "",
        mask: Sequence[str] = (),
        caller: Principal | None = None,
    ) -> Member:
        """Changes the member's roles (none means ["member"]) and/or tenant-local title. A change of
        roles revokes the member's tokens in the tenant. No mask means roles (the original contract)."""
        if not user_id:
            raise InvalidArgument(
                "which member?", violations=[FieldViolation("membership.user_id", "value is required")]
            )
        fields = list(mask) or ["roles"]
        if any(path not in MEMBERSHIP_UPDATABLE_FIELDS for path in fields):
            raise InvalidArgument(
                "update_mask must name fields to change",
                violations=[FieldViolation("update_mask", "paths must be among roles, title")],
            )
        names = role_names(roles)
        async with self._db.core_session() as session:
            membership = await get_membership(session, tenant_id, user_id, for_update=True)
            if membership is None:
                raise membership_not_found()
            # The id as stored: MariaDB finds it in any case, revocations match it exactly.
            user_id = membership.user_id
            await check_authority(session, self._catalog, caller, membership)
            check_etag(membership.revision, etag, "membership")
            values: dict[str, object] = {}
            roles_changed = "roles" in fields and names != roles_of(membership)
            if "roles" in fields:
                check_grant(
                    caller, await resolve_roles(session, self._catalog, tenant_id, names, field="membership.roles")
                )
                if roles_changed:
                    values["roles_json"] = json.dumps(names)
            if "title" in fields and title != membership.title:
                values["title"] = title
            if not values:
                return Member(membership)
            result = await session.execute(
                update(MembershipRow)
                .where(
                    MembershipRow.tenant_id == tenant_id,
                    MembershipRow.user_id == user_id,
                    MembershipRow.revision == membership.revision,
                )
                .values(**values, revision=membership.revision + 1)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise Aborted("the membership changed concurrently; read it again", reason=CommonReason.ETAG_MISMATCH)
            record(
                session,
                "auth.membership.updated",
                tenant_id,
                user_subject(user_id),
                fields=",".join(sorted(fields)),
                roles=",".join(names) if roles_changed else "",
            )
            await session.commit()
            refreshed = await get_membership(session, tenant_id, user_id)
        if roles_changed:
            await self._revoker.revoke_subject(user_subject(user_id), tenant_id)
        return Member(refreshed or membership)

    async def remove_membership(self, tenant_id: str, user_id: str, *, caller: Principal | None = None) -> None:
        """Removes the user from the tenant and revokes their tokens there. The home membership
        stays: an identity without its home would be managed by nobody (disable the user instead)."""
        async with self._db.core_session() as session:
            membership = await get_membership(session, tenant_id, user_id, for_update=True) if user_id else None
            if membership is None:
                raise membership_not_found()
            user = await get_user(session, user_id)
            if user is not None and user.home_tenant_id == tenant_id:
                raise FailedPrecondition(
                    "the home membership of a user cannot be removed; disable the user instead",
                    reason=AuthReason.HOME_MEMBERSHIP,
                )
            await check_authority(session, self._catalog, caller, membership)
            result = await session.execute(
                delete(MembershipRow).where(MembershipRow.tenant_id == tenant_id, MembershipRow.user_id == user_id)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise membership_not_found()
            # Refresh is refused while the membership is gone; ending the sessions keeps it refused
            # should the person join again (a refresh token taken before the removal stays dead).
            await end_sessions(session, user_id, "MEMBERSHIP_REMOVED", tenant_id=tenant_id)
            record(session, "auth.membership.removed", tenant_id, user_subject(user_id))
            await session.commit()
        await self._revoker.revoke_subject(user_subject(user_id), tenant_id)
