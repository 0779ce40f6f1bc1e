"""Who holds what in the current call's tenant, asked of the auth service: its roles with their
permissions and its members with their roles. The reverse lookups and previews evaluate menus for
these permission sets. Asked with the menus service's own credentials (the caller is an
administrator of menus, not necessarily of users) and always for the call's own tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from tenantmesh.auth.v1 import admin_service_pb2 as auth_pb
from tenantmesh.auth.v1 import admin_service_pb2_grpc as auth_grpc

from services.runtime.context import current_tenant
from services.runtime.credentials import ServiceCredentials

_PAGE = 500
_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    roles: tuple[str, ...]


class People:
    def __init__(self, channel: Callable[[], grpc.aio.Channel], credentials: ServiceCredentials) -> None:
        self._channel = channel
        self._credentials = credentials

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (*await self._credentials.metadata(), ("x-tenant-id", current_tenant().tenant_id))

    async def roles(self) -> dict[str, frozenset[str]]:
        """Every role of the tenant (built-in first) with its permissions."""
        stub: Any = auth_grpc.RoleServiceStub(self._channel())
        response = await stub.ListRoles(
            auth_pb.ListRolesRequest(), metadata=await self._metadata(), timeout=_TIMEOUT_SECONDS
        )
        return {role.name: frozenset(role.permissions) for role in response.roles}

    async def members(self) -> list[Member]:
        stub: Any = auth_grpc.MembershipServiceStub(self._channel())
        metadata = await self._metadata()
        found: list[Member] = []
        token = ""
        while True:
            page = await stub.ListMemberships(
                auth_pb.ListMembershipsRequest(page_size=_PAGE, page_token=token),
                metadata=metadata,
                timeout=_TIMEOUT_SECONDS,
            )
            found.extend(Member(m.user_id, m.email, tuple(m.roles)) for m in page.memberships)
            token = page.next_page_token
            if not token:
                return found


def permissions_of(roles: dict[str, frozenset[str]], names: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(roles.get(name, frozenset()) for name in names))
