"""Users, memberships and service accounts: the domain behind UserService,
MembershipService and ServiceAccountService, and the queries login code shares.

Users are platform-wide (email unique across the platform); a tenant sees
only its members. Every operation is one transaction, audited inside it;
token revocations are published only after the commit, so a failed change
revokes nothing and a committed one is never left without its revocation
(a failed publish fails the call, and a retry publishes again).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit
from services.auth.deps import AuthDeps
from services.auth.models import MembershipRow, ServiceAccountRow, UserRow
from services.auth.passwords import check_policy, hash_password
from services.auth.reasons import AuthReason
from services.auth.role_admin import check_grant, resolve_roles, role_names
from services.runtime.clock import utcnow
from services.runtime.context import Principal, client_address_var
from services.runtime.errors import Aborted, AlreadyExists, CommonReason, FieldViolation, InvalidArgument, NotFound
from services.runtime.ids import uuid7
from services.runtime.paging import encode_token, page_request
from services.runtime.resources import check_etag

API_KEY_SCHEME = "tmk"
USER_UPDATABLE_FIELDS = ("display_name",)


# -- names and secrets ----------------------------------------------------------------------------


def user_subject(user_id: str) -> str:
    return f"user:{user_id}"


def service_account_subject(service_account_id: str) -> str:
    return f"service-account:{service_account_id}"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def roles_of(row: MembershipRow | ServiceAccountRow) -> list[str]:
    roles: list[str] = json.loads(row.roles_json)
    return roles


def api_key_hash(api_key: str) -> str:
    """What is stored of an API key: its SHA-256, hex (the key is random, so no slow hash is needed)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh key ``tmk_<8 hex>_<secret>`` and what is shown to tell keys apart: its first
    characters up to the secret, ``tmk_<8 hex>`` (as the bootstrap service account's)."""
    prefix = f"{API_KEY_SCHEME}_{secrets.token_hex(4)}"
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


# -- queries (callers own the transaction) --------------------------------------------------------


async def get_user(session: AsyncSession, user_id: str) -> UserRow | None:
    return (await session.execute(select(UserRow).where(UserRow.user_id == user_id))).scalar_one_or_none()


async def find_user_by_email(session: AsyncSession, email: str) -> UserRow | None:
    query = select(UserRow).where(UserRow.email == normalize_email(email))
    return (await session.execute(query)).scalar_one_or_none()


async def get_membership(
    session: AsyncSession, tenant_id: str, user_id: str, *, for_update: bool = False
) -> MembershipRow | None:
    query = select(MembershipRow).where(MembershipRow.tenant_id == tenant_id, MembershipRow.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def memberships_of_user(session: AsyncSession, user_id: str) -> list[MembershipRow]:
    """Every tenant the user belongs to, in tenant id order."""
    query = select(MembershipRow).where(MembershipRow.user_id == user_id).order_by(MembershipRow.tenant_id)
    return list((await session.execute(query)).scalars())


async def get_service_account(session: AsyncSession, service_account_id: str) -> ServiceAccountRow | None:
    query = select(ServiceAccountRow).where(ServiceAccountRow.service_account_id == service_account_id)
    return (await session.execute(query)).scalar_one_or_none()


async def find_service_account_by_key(session: AsyncSession, api_key: str) -> ServiceAccountRow | None:
    """The service account an API key belongs to, None for an unknown or malformed key."""
    if not api_key.startswith(f"{API_KEY_SCHEME}_") or len(api_key) > 256:
        return None
    query = select(ServiceAccountRow).where(ServiceAccountRow.api_key_hash == api_key_hash(api_key))
    return (await session.execute(query)).scalar_one_or_none()


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A membership with its user's email."""

    membership: MembershipRow
    email: str


@dataclass(frozen=True)
class CreatedUser:
    user: UserRow
    member: Member


@dataclass(frozen=True)
class UserPage:
    users: list[UserRow]
    next_page_token: str


@dataclass(frozen=True)
class MemberPage:
    members: list[Member]
    next_page_token: str


@dataclass(frozen=True)
class CreatedServiceAccount:
    account: ServiceAccountRow
    api_key: str  # in this result only; never stored


def _user_not_found() -> NotFound:
    return NotFound("no such user in this tenant", reason=AuthReason.USER_NOT_FOUND)


def _membership_not_found() -> NotFound:
    return NotFound("no such member of this tenant", reason=AuthReason.MEMBERSHIP_NOT_FOUND)


def _email_taken() -> AlreadyExists:
    return AlreadyExists("a user with this email exists", reason=AuthReason.USER_EMAIL_TAKEN)


def _audit(session: AsyncSession, action: str, tenant_id: str, target: str, **details: str) -> None:
    audit.record(
        session, action, tenant_id=tenant_id, target=target, client_address=client_address_var.get(), details=details
    )


class Accounts:
    """Users, memberships and service accounts of one platform, acting for one tenant per call."""

    def __init__(self, deps: AuthDeps) -> None:
        self._db = deps.db
        self._catalog = deps.roles
        self._revoker = deps.revoker
        self._profiles = deps.profiles

    # -- users --------------------------------------------------------------------------------

    async def create_user(
        self,
        tenant_id: str,
        *,
        email: str,
        password: str,
        display_name: str = "",
        roles: Sequence[str] = (),
        caller: Principal | None = None,
    ) -> CreatedUser:
        """A new user who is a member of ``tenant_id``; ``caller`` (None for trusted code) must hold the roles."""
        email = normalize_email(email)
        if not email:
            raise InvalidArgument(
                "a user needs an email", violations=[FieldViolation("user.email", "value is required")]
            )
        check_policy(password, "password")
        names = role_names(roles)
        async with self._db.core_session() as session:
            # Cheap refusals before the deliberately slow hash.
            check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="roles"))
            if await find_user_by_email(session, email) is not None:
                raise _email_taken()
        password_hash = await hash_password(password)
        now = utcnow()
        user = UserRow(
            user_id=uuid7(),
            email=email,
            display_name=display_name or email,
            password_hash=password_hash,
            disabled=False,
            revision=1,
            create_time=now,
            update_time=now,
        )
        membership = MembershipRow(
            tenant_id=tenant_id, user_id=user.user_id, roles_json=json.dumps(names), revision=1, create_time=now
        )
        try:
            async with self._db.core_session() as session:
                # Again, under lock: a role may have changed or gone while the password was hashed.
                check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="roles"))
                session.add(user)
                await session.flush()
                session.add(membership)
                _audit(session, "auth.user.created", tenant_id, user_subject(user.user_id), roles=",".join(names))
                await session.commit()
        except IntegrityError:
            async with self._db.core_session() as session:
                if await find_user_by_email(session, email) is None:
                    raise
            raise _email_taken() from None
        return CreatedUser(user=user, member=Member(membership, email))

    async def get_user(self, tenant_id: str, user_id: str) -> UserRow:
        async with self._db.core_session() as session:
            return await self._member_user(session, tenant_id, user_id)

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
        return UserPage(users=users, next_page_token=token)

    async def update_user(
        self, tenant_id: str, user_id: str, *, etag: str, mask: Sequence[str], display_name: str
    ) -> UserRow:
        if not mask or any(path not in USER_UPDATABLE_FIELDS for path in mask):
            raise InvalidArgument(
                "update_mask must name fields to change",
                violations=[FieldViolation("update_mask", "paths must be among display_name")],
            )
        async with self._db.core_session() as session:
            user = await self._member_user(session, tenant_id, user_id)
            check_etag(user.revision, etag, "user")
            await self._bump_user(session, user, display_name=display_name or user.email)
            _audit(session, "auth.user.updated", tenant_id, user_subject(user_id), fields="display_name")
            await session.commit()
        self._profiles.forget(user_id)
        return user

    async def disable_user(self, tenant_id: str, user_id: str) -> UserRow:
        """Disables the user platform-wide and revokes their tokens in every tenant."""
        async with self._db.core_session() as session:
            user = await self._member_user(session, tenant_id, user_id)
            if not user.disabled:
                await self._bump_user(session, user, disabled=True)
                _audit(session, "auth.user.disabled", tenant_id, user_subject(user_id))
                await session.commit()
        self._profiles.forget(user_id)
        # Also when it was disabled already: a retry after a failed publish must still revoke.
        await self._revoker.revoke_subject(user_subject(user_id))
        return user

    async def _member_user(self, session: AsyncSession, tenant_id: str, user_id: str) -> UserRow:
        """The user, if a member of the tenant; anyone else does not exist as far as the tenant knows."""
        if not user_id or await get_membership(session, tenant_id, user_id) is None:
            raise _user_not_found()
        user = await get_user(session, user_id)
        if user is None:
            raise _user_not_found()
        return user

    async def _bump_user(self, session: AsyncSession, user: UserRow, **values: object) -> None:
        """Applies ``values`` only if nobody changed the user meanwhile; refreshes ``user``."""
        result = await session.execute(
            update(UserRow)
            .where(UserRow.user_id == user.user_id, UserRow.revision == user.revision)
            .values(**values, revision=user.revision + 1, update_time=utcnow())
        )
        if getattr(result, "rowcount", 0) != 1:
            raise Aborted("the user changed concurrently; read it again", reason=CommonReason.ETAG_MISMATCH)

    # -- memberships --------------------------------------------------------------------------

    async def add_membership(
        self, tenant_id: str, *, email: str, roles: Sequence[str] = (), caller: Principal | None = None
    ) -> Member:
        names = role_names(roles)
        now = utcnow()
        try:
            async with self._db.core_session() as session:
                user = await find_user_by_email(session, email)
                if user is None:
                    raise NotFound("no user with this email", reason=AuthReason.USER_NOT_FOUND)
                check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="roles"))
                if await get_membership(session, tenant_id, user.user_id) is not None:
                    raise AlreadyExists("already a member of this tenant", reason=AuthReason.MEMBERSHIP_EXISTS)
                membership = MembershipRow(
                    tenant_id=tenant_id, user_id=user.user_id, roles_json=json.dumps(names), revision=1, create_time=now
                )
                session.add(membership)
                _audit(session, "auth.membership.added", tenant_id, user_subject(user.user_id), roles=",".join(names))
                await session.commit()
        except IntegrityError:
            # A concurrent add of the same member won.
            raise AlreadyExists("already a member of this tenant", reason=AuthReason.MEMBERSHIP_EXISTS) from None
        return Member(membership, user.email)

    async def list_memberships(self, tenant_id: str, *, page_size: int, page_token: str) -> MemberPage:
        """The tenant's memberships in user id order."""
        page, marker = page_request(page_size, page_token, "memberships", tenant_id)
        query = (
            select(MembershipRow, UserRow.email)
            .join(UserRow, UserRow.user_id == MembershipRow.user_id)
            .where(MembershipRow.tenant_id == tenant_id)
            .order_by(MembershipRow.user_id)
            .limit(page.size + 1)
        )
        if page.after is not None:
            query = query.where(MembershipRow.user_id > page.after)
        async with self._db.core_session() as session:
            rows = [Member(membership, email) for membership, email in (await session.execute(query)).all()]
        members = rows[: page.size]
        token = encode_token(members[-1].membership.user_id, marker) if len(rows) > page.size else ""
        return MemberPage(members=members, next_page_token=token)

    async def update_membership(
        self, tenant_id: str, user_id: str, *, etag: str, roles: Sequence[str], caller: Principal | None = None
    ) -> Member:
        """Replaces the member's roles (none means ["member"]) and revokes their tokens in the tenant."""
        if not user_id:
            raise InvalidArgument(
                "which member?", violations=[FieldViolation("membership.user_id", "value is required")]
            )
        names = role_names(roles)
        async with self._db.core_session() as session:
            membership = await get_membership(session, tenant_id, user_id, for_update=True)
            if membership is None:
                raise _membership_not_found()
            check_etag(membership.revision, etag, "membership")
            check_grant(caller, await resolve_roles(session, self._catalog, tenant_id, names, field="membership.roles"))
            user = await get_user(session, user_id)
            email = user.email if user is not None else ""
            if names == roles_of(membership):
                return Member(membership, email)
            result = await session.execute(
                update(MembershipRow)
                .where(
                    MembershipRow.tenant_id == tenant_id,
                    MembershipRow.user_id == user_id,
                    MembershipRow.revision == membership.revision,
                )
                .values(roles_json=json.dumps(names), revision=membership.revision + 1)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise Aborted("the membership changed concurrently; read it again", reason=CommonReason.ETAG_MISMATCH)
            _audit(session, "auth.membership.updated", tenant_id, user_subject(user_id), roles=",".join(names))
            await session.commit()
        await self._revoker.revoke_subject(user_subject(user_id), tenant_id)
        return Member(membership, email)

    async def remove_membership(self, tenant_id: str, user_id: str) -> None:
        """Removes the user from the tenant (the user stays) and revokes their tokens there."""
        async with self._db.core_session() as session:
            result = await session.execute(
                delete(MembershipRow).where(MembershipRow.tenant_id == tenant_id, MembershipRow.user_id == user_id)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise _membership_not_found()
            _audit(session, "auth.membership.removed", tenant_id, user_subject(user_id))
            await session.commit()
        await self._revoker.revoke_subject(user_subject(user_id), tenant_id)

    # -- service accounts ---------------------------------------------------------------------

    async def create_service_account(
        self, tenant_id: str, *, name: str, roles: Sequence[str] = (), caller: Principal | None = None
    ) -> CreatedServiceAccount:
        """A service account with a fresh API key; the key is returned here only, a hash is kept."""
        if not name:
            raise InvalidArgument(
                "a service account needs a name",
                violations=[FieldViolation("service_account.name", "value is required")],
            )
        names = role_names(roles)
        api_key, prefix = new_api_key()
        account = ServiceAccountRow(
            service_account_id=uuid7(),
            tenant_id=tenant_id,
            name=name,
            roles_json=json.dumps(names),
            api_key_prefix=prefix,
            api_key_hash=api_key_hash(api_key),
            create_time=utcnow(),
        )
        exists = AlreadyExists("a service account with this name exists", reason=AuthReason.SERVICE_ACCOUNT_EXISTS)
        try:
            async with self._db.core_session() as session:
                check_grant(
                    caller,
                    await resolve_roles(session, self._catalog, tenant_id, names, field="service_account.roles"),
                )
                taken = await session.execute(
                    select(ServiceAccountRow.service_account_id).where(
                        ServiceAccountRow.tenant_id == tenant_id, ServiceAccountRow.name == name
                    )
                )
                if taken.first() is not None:
                    raise exists
                session.add(account)
                _audit(
                    session,
                    "auth.service_account.created",
                    tenant_id,
                    service_account_subject(account.service_account_id),
                    name=name,
                    roles=",".join(names),
                    api_key_prefix=prefix,
                )
                await session.commit()
        except IntegrityError:
            raise exists from None
        return CreatedServiceAccount(account=account, api_key=api_key)

    async def list_service_accounts(self, tenant_id: str) -> list[ServiceAccountRow]:
        """The tenant's service accounts in creation order."""
        query = (
            select(ServiceAccountRow)
            .where(ServiceAccountRow.tenant_id == tenant_id)
            .order_by(ServiceAccountRow.service_account_id)
        )
        async with self._db.core_session() as session:
            return list((await session.execute(query)).scalars())

    async def delete_service_account(self, tenant_id: str, service_account_id: str) -> None:
        """Deletes the account (its key stops working) and revokes its tokens."""
        async with self._db.core_session() as session:
            result = await session.execute(
                delete(ServiceAccountRow).where(
                    ServiceAccountRow.tenant_id == tenant_id,
                    ServiceAccountRow.service_account_id == service_account_id,
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                raise NotFound("no such service account in this tenant", reason=AuthReason.SERVICE_ACCOUNT_NOT_FOUND)
            _audit(session, "auth.service_account.deleted", tenant_id, service_account_subject(service_account_id))
            await session.commit()
        await self._revoker.revoke_subject(service_account_subject(service_account_id))
