"""Roles of a tenant: built-in ones (from code) and custom ones (from the database)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.auth.models import RoleRow
from services.auth.permissions import PLATFORM_ADMIN, RoleDefinition
from services.auth.reasons import AuthReason
from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.errors import FieldViolation, InvalidArgument


def role_not_found(field: str, names: Iterable[str]) -> InvalidArgument:
    missing = ", ".join(sorted(names))
    return InvalidArgument(
        f"no such role: {missing}",
        reason=AuthReason.ROLE_NOT_FOUND,
        violations=[FieldViolation(field, f"unknown roles: {missing}", reason=AuthReason.ROLE_NOT_FOUND)],
    )


def custom_role(row: RoleRow) -> RoleDefinition:
    return _custom_role(row.name, row.description, row.permissions_json)


def _custom_role(name: str, description: str, permissions_json: str) -> RoleDefinition:
    return RoleDefinition(name, description, frozenset(json.loads(permissions_json)), False)


# Columns, not entities: the query runs on ORM sessions and on plain connections alike.
_CUSTOM_ROLES = (
    select(RoleRow.name, RoleRow.description, RoleRow.permissions_json)
    .where(RoleRow.tenant_id == bindparam("tenant_id"))
    .order_by(RoleRow.name)
)


class RoleCatalog:
    def __init__(self, built_in: Mapping[str, RoleDefinition], grantable: frozenset[str]) -> None:
        self.built_in = dict(built_in)
        self.grantable = grantable

    def built_in_for(self, tenant_id: str) -> dict[str, RoleDefinition]:
        """Built-in roles available in a tenant: platform-admin only in the platform tenant."""
        return {
            name: role
            for name, role in self.built_in.items()
            if name != PLATFORM_ADMIN or tenant_id == PLATFORM_TENANT_ID
        }

    async def roles_of(self, session: AsyncSession | AsyncConnection, tenant_id: str) -> dict[str, RoleDefinition]:
        roles = self.built_in_for(tenant_id)
        for name, description, permissions_json in await session.execute(_CUSTOM_ROLES, {"tenant_id": tenant_id}):
            roles[name] = _custom_role(name, description, permissions_json)
        return roles

    async def permissions_for(
        self,
        session: AsyncSession | AsyncConnection,
        tenant_id: str,
        role_names: Sequence[str],
        *,
        field: str = "roles",
    ) -> frozenset[str]:
        """The union of the roles' permissions; unknown role names are INVALID_ARGUMENT (ROLE_NOT_FOUND)."""
        roles = await self._roles_among(session, tenant_id, role_names)
        missing = set(role_names) - roles.keys()
        if missing:
            raise role_not_found(field, missing)
        return _granted_by(roles, role_names)

    async def held_permissions(
        self, session: AsyncSession | AsyncConnection, tenant_id: str, role_names: Sequence[str]
    ) -> frozenset[str]:
        """What a holder of the roles may do: the union of their permissions, a name that is no
        longer a role granting nothing."""
        roles = await self._roles_among(session, tenant_id, role_names)
        return _granted_by(roles, [name for name in role_names if name in roles])

    async def _roles_among(
        self, session: AsyncSession | AsyncConnection, tenant_id: str, role_names: Sequence[str]
    ) -> dict[str, RoleDefinition]:
        """The tenant's roles, enough of them to look up ``role_names``."""
        built_in = self.built_in_for(tenant_id)
        if all(name in built_in for name in role_names):
            # The common case (every login and refresh): no query needed.
            return built_in
        return await self.roles_of(session, tenant_id)


def _granted_by(roles: Mapping[str, RoleDefinition], role_names: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(roles[name].permissions for name in role_names))
