"""Custom roles of a tenant: the domain behind RoleService, and role checks shared with grants.

Built-in roles live in code (:mod:`services.auth.permissions`) and cannot be
changed; custom roles are rows of ``auth_roles``. Two rules keep roles safe:

- Only permissions in the catalogue's grantable set may go into a custom role
  (no "*", nothing that reaches beyond the tenant).
- Nobody grants what they do not hold: creating or changing a role, or giving
  roles to a member or service account, needs every permission involved
  (PERMISSION_DENIED / PERMISSION_ESCALATION otherwise). Without it a holder of
  ``auth.roles.update`` could write themselves any permission.
- Nobody acts on a member who may do more than they may: setting someone's
  password, second factor or address is becoming them, and changing, removing or
  disabling them decides over them, so either needs every permission the member
  holds in the tenant (the same answer). Without it a holder of
  ``auth.users.set_password`` could log in as the tenant's administrator. Service
  accounts are held to the same rule: deleting one decides over it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit
from services.auth.deps import AuthDeps
from services.auth.identities import roles_of
from services.auth.models import INVITATION_PENDING, InvitationRow, MembershipRow, RoleRow, ServiceAccountRow
from services.auth.permissions import BUILT_IN_ROLES, RoleDefinition
from services.auth.reasons import AuthReason
from services.auth.roles import RoleCatalog, custom_role, role_not_found
from services.runtime.context import Principal, client_address_var
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from services.runtime.proto_values import etag_of
from services.runtime.resources import bump_revision, check_etag, check_update_mask

UPDATABLE_FIELDS = ("description", "permissions")


@dataclass(frozen=True)
class RoleView:
    """A role as shown to callers; custom roles carry their etag, built-in ones none."""

    definition: RoleDefinition
    etag: str = ""


def check_grant(caller: Principal | None, permissions: Iterable[str]) -> None:
    """Refuses to let ``caller`` hand out permissions it does not hold itself (None: trusted code)."""
    _refuse_beyond(caller, permissions, "cannot grant permissions the caller does not hold")


async def check_authority(
    session: AsyncSession, catalog: RoleCatalog, caller: Principal | None, holder: MembershipRow | ServiceAccountRow
) -> None:
    """Refuses to let ``caller`` act on the member of a membership, or on a service account, if it
    holds permissions in that tenant that the caller does not (None: trusted code)."""
    if caller is None:
        return
    held = await catalog.held_permissions(session, holder.tenant_id, roles_of(holder))
    what = "the member" if isinstance(holder, MembershipRow) else "the service account"
    _refuse_beyond(caller, held, f"{what} holds permissions the caller does not")


def _refuse_beyond(caller: Principal | None, permissions: Iterable[str], message: str) -> None:
    if caller is None:
        return
    missing = sorted(p for p in set(permissions) if not caller.has_permission(p))
    if missing:
        raise PermissionDenied(
            message, reason=AuthReason.PERMISSION_ESCALATION, metadata={"permissions": ",".join(missing)}
        )


def role_names(requested: Sequence[str]) -> list[str]:
    """Requested role names without repeats, in order; none means ["member"]."""
    names = list(dict.fromkeys(requested))
    return names or ["member"]


async def resolve_roles(
    session: AsyncSession, catalog: RoleCatalog, tenant_id: str, names: Sequence[str], *, field: str
) -> frozenset[str]:
    """The union of the roles' permissions, for a transaction that grants them.

    Unknown names are INVALID_ARGUMENT (ROLE_NOT_FOUND). Custom roles are read
    with a shared lock so that a concurrent DeleteRole waits for the grant (and
    then sees it) instead of both passing their checks.
    """
    roles = await _locked_roles(session, catalog, tenant_id, names)
    missing = set(names) - roles.keys()
    if missing:
        raise role_not_found(field, missing)
    return frozenset().union(*(roles[name].permissions for name in names))


async def roles_defined(session: AsyncSession, catalog: RoleCatalog, tenant_id: str, names: Sequence[str]) -> bool:
    """Whether each of ``names`` is a role of the tenant, read under the shared lock of a grant."""
    return set(names) <= (await _locked_roles(session, catalog, tenant_id, names)).keys()


async def _locked_roles(
    session: AsyncSession, catalog: RoleCatalog, tenant_id: str, names: Sequence[str]
) -> dict[str, RoleDefinition]:
    """Those of ``names`` that are roles of the tenant, custom ones read under a shared lock."""
    built_in = catalog.built_in_for(tenant_id)
    roles = {name: built_in[name] for name in names if name in built_in}
    custom = [name for name in names if name not in built_in]
    if custom:
        query = (
            select(RoleRow).where(RoleRow.tenant_id == tenant_id, RoleRow.name.in_(custom)).with_for_update(read=True)
        )
        roles.update((row.name, custom_role(row)) for row in (await session.execute(query)).scalars())
    return roles


async def holders_of(session: AsyncSession, tenant_id: str, role: str) -> tuple[list[str], list[str]]:
    """User ids and service account ids holding ``role`` in the tenant."""
    # Roles are JSON lists; LIKE narrows the scan portably, the JSON check decides.
    pattern = f'%"{role}"%'
    users = await session.execute(
        select(MembershipRow.user_id, MembershipRow.roles_json).where(
            MembershipRow.tenant_id == tenant_id, MembershipRow.roles_json.like(pattern)
        )
    )
    accounts = await session.execute(
        select(ServiceAccountRow.service_account_id, ServiceAccountRow.roles_json).where(
            ServiceAccountRow.tenant_id == tenant_id, ServiceAccountRow.roles_json.like(pattern)
        )
    )
    return (
        [user_id for user_id, roles in users if role in json.loads(roles)],
        [account_id for account_id, roles in accounts if role in json.loads(roles)],
    )


async def invitations_granting(session: AsyncSession, tenant_id: str, role: str) -> list[str]:
    """Ids of the tenant's pending invitations (expired ones too: a resend revives them) whose
    acceptance would grant ``role``."""
    rows = await session.execute(
        select(InvitationRow.invitation_id, InvitationRow.roles_json).where(
            InvitationRow.tenant_id == tenant_id,
            InvitationRow.state == INVITATION_PENDING,
            InvitationRow.roles_json.like(f'%"{role}"%'),
        )
    )
    return [invitation_id for invitation_id, roles in rows if role in json.loads(roles)]


def _not_found(name: str) -> NotFound:
    return NotFound("no such role", reason=AuthReason.ROLE_NOT_FOUND, metadata={"role": name})


def _check_grantable(catalog: RoleCatalog, permissions: Sequence[str], field: str) -> None:
    bad = [(i, p) for i, p in enumerate(permissions) if p not in catalog.grantable]
    if bad:
        raise InvalidArgument(
            "a custom role cannot hold these permissions",
            reason=AuthReason.PERMISSION_NOT_GRANTABLE,
            metadata={"permissions": ",".join(p for _, p in bad)},
            violations=[
                FieldViolation(f"{field}[{i}]", f"{p} is not grantable", reason=AuthReason.PERMISSION_NOT_GRANTABLE)
                for i, p in bad
            ],
        )


def _view(row: RoleRow) -> RoleView:
    return RoleView(custom_role(row), etag_of(row.revision))


class RoleAdmin:
    """Custom role create/get/list/update/delete. Each operation is one transaction."""

    def __init__(self, deps: AuthDeps) -> None:
        self._db = deps.db
        self._catalog = deps.roles
        self._revoker = deps.revoker

    async def create(
        self,
        tenant_id: str,
        *,
        name: str,
        description: str,
        permissions: Sequence[str],
        caller: Principal | None,
    ) -> RoleView:
        if not name:
            raise InvalidArgument("a role needs a name", violations=[FieldViolation("role.name", "value is required")])
        if name in BUILT_IN_ROLES:
            raise AlreadyExists(
                "built-in roles cannot be redefined", reason=AuthReason.ROLE_EXISTS, metadata={"role": name}
            )
        wanted = sorted(set(permissions))
        _check_grantable(self._catalog, list(permissions), "role.permissions")
        check_grant(caller, wanted)
        row = RoleRow(
            tenant_id=tenant_id,
            name=name,
            description=description,
            permissions_json=json.dumps(wanted),
            revision=1,
        )
        try:
            async with self._db.core_session() as session:
                if await self._row(session, tenant_id, name) is not None:
                    raise AlreadyExists(
                        "a role with this name exists", reason=AuthReason.ROLE_EXISTS, metadata={"role": name}
                    )
                session.add(row)
                _audit(session, "auth.role.created", tenant_id, name, permissions=",".join(wanted))
                await session.commit()
        except IntegrityError:
            # A concurrent create of the same name won.
            raise AlreadyExists(
                "a role with this name exists", reason=AuthReason.ROLE_EXISTS, metadata={"role": name}
            ) from None
        return _view(row)

    async def get(self, tenant_id: str, name: str) -> RoleView:
        built_in = self._catalog.built_in_for(tenant_id)
        if name in built_in:
            return RoleView(built_in[name])
        async with self._db.core_session() as session:
            row = await self._row(session, tenant_id, name)
        if row is None:
            raise _not_found(name)
        return _view(row)

    async def list(self, tenant_id: str) -> list[RoleView]:
        """Built-in roles first (in their fixed order), then custom roles by name."""
        views = [RoleView(role) for role in self._catalog.built_in_for(tenant_id).values()]
        async with self._db.core_session() as session:
            rows = await session.execute(select(RoleRow).where(RoleRow.tenant_id == tenant_id).order_by(RoleRow.name))
            views.extend(_view(row) for row in rows.scalars())
        return views

    async def update(
        self,
        tenant_id: str,
        name: str,
        *,
        etag: str,
        mask: Sequence[str],
        description: str,
        permissions: Sequence[str],
        caller: Principal | None,
    ) -> RoleView:
        """Changes a custom role; members and service accounts holding it get their tokens revoked."""
        check_update_mask(mask, UPDATABLE_FIELDS)
        if not name:
            raise InvalidArgument("which role?", violations=[FieldViolation("role.name", "value is required")])
        if name in self._catalog.built_in_for(tenant_id):
            raise FailedPrecondition(
                "built-in roles cannot be changed", reason=AuthReason.ROLE_BUILT_IN, metadata={"role": name}
            )
        wanted = sorted(set(permissions))
        if "permissions" in mask:
            _check_grantable(self._catalog, list(permissions), "role.permissions")
            check_grant(caller, wanted)
        async with self._db.core_session() as session:
            row = await self._row(session, tenant_id, name, for_update=True)
            if row is None:
                raise _not_found(name)
            check_etag(row.revision, etag, "role")
            values: dict[str, object] = {}
            if "description" in mask:
                values["description"] = description
            permissions_changed = "permissions" in mask and wanted != sorted(json.loads(row.permissions_json))
            if permissions_changed:
                values["permissions_json"] = json.dumps(wanted)
            await bump_revision(session, row, "role", **values)
            users, accounts = await holders_of(session, tenant_id, name) if permissions_changed else ([], [])
            _audit(session, "auth.role.updated", tenant_id, name, fields=",".join(sorted(mask)))
            await session.commit()
        # Tokens carry permissions: holders must log in again to see the new set.
        for user_id in users:
            await self._revoker.revoke_subject(f"user:{user_id}", tenant_id)
        for account_id in accounts:
            await self._revoker.revoke_subject(f"service-account:{account_id}", tenant_id)
        return _view(row)

    async def delete(self, tenant_id: str, name: str) -> None:
        if name in self._catalog.built_in_for(tenant_id):
            raise FailedPrecondition(
                "built-in roles cannot be deleted", reason=AuthReason.ROLE_BUILT_IN, metadata={"role": name}
            )
        async with self._db.core_session() as session:
            # The exclusive lock waits for grants in flight (they hold a shared lock, see resolve_roles).
            row = await self._row(session, tenant_id, name, for_update=True)
            if row is None:
                raise _not_found(name)
            users, accounts = await holders_of(session, tenant_id, name)
            # A pending invitation is a grant yet to happen: its acceptance must find the role.
            invitations = await invitations_granting(session, tenant_id, name)
            if users or accounts or invitations:
                raise FailedPrecondition(
                    "the role is still held",
                    reason=AuthReason.ROLE_IN_USE,
                    metadata={
                        "role": name,
                        "members": str(len(users)),
                        "service_accounts": str(len(accounts)),
                        "invitations": str(len(invitations)),
                    },
                )
            await session.execute(delete(RoleRow).where(RoleRow.tenant_id == tenant_id, RoleRow.name == name))
            _audit(session, "auth.role.deleted", tenant_id, name)
            await session.commit()

    async def _row(
        self, session: AsyncSession, tenant_id: str, name: str, *, for_update: bool = False
    ) -> RoleRow | None:
        query = select(RoleRow).where(RoleRow.tenant_id == tenant_id, RoleRow.name == name)
        if for_update:
            query = query.with_for_update()
        return (await session.execute(query)).scalar_one_or_none()


def _audit(session: AsyncSession, action: str, tenant_id: str, role: str, **details: str) -> None:
    audit.record(
        session,
        action,
        tenant_id=tenant_id,
        target=f"role:{role}",
        client_address=client_address_var.get(),
        details=details,
    )
