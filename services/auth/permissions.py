"""Built-in roles and the permissions they grant.

Permissions are the strings declared on the RPCs in the protos. Built-in roles
are derived from those declarations at startup, so a new RPC's permission is
granted to tenant administrators without anyone editing a list:

- ``platform-admin`` (platform tenant only): everything ("*").
- ``tenant-admin``: every permission of tenant-scoped RPCs, minus the few held
  by platform administrators only, plus the caller's own session ("auth.self").
- ``member``: the caller's own session, reading the current tenant, and the
  permissions of the tenant-scoped RPCs declared ``member_default`` (filling in
  the tenant's forms, reading one's own submissions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.runtime.access import MethodPolicy, Scope

PLATFORM_ADMIN = "platform-admin"
TENANT_ADMIN = "tenant-admin"
MEMBER = "member"
BUILT_IN_ROLES = (PLATFORM_ADMIN, TENANT_ADMIN, MEMBER)

ALL = "*"
SELF = "auth.self"
MEMBER_PERMISSIONS = frozenset({SELF, "tenants.current.get"})
# Tenant-scoped permissions no tenant role holds: adding an existing identity to a tenant without
# its consent is a platform administrator's explicit act (everyone else joins by invitation).
PLATFORM_ONLY = frozenset({"auth.memberships.create"})


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    description: str
    permissions: frozenset[str]
    built_in: bool


def built_in_roles(policies: Iterable[MethodPolicy]) -> dict[str, RoleDefinition]:
    policies = list(policies)
    tenant_permissions = {p.permission for p in policies if p.scope is Scope.TENANT and p.permission and not p.public}
    member_permissions = MEMBER_PERMISSIONS | {
        p.permission for p in policies if p.member_default and p.permission in tenant_permissions
    }
    return {
        PLATFORM_ADMIN: RoleDefinition(PLATFORM_ADMIN, "Operates the whole platform", frozenset({ALL}), True),
        TENANT_ADMIN: RoleDefinition(
            TENANT_ADMIN,
            "Administers one tenant",
            frozenset((tenant_permissions - PLATFORM_ONLY) | member_permissions),
            True,
        ),
        MEMBER: RoleDefinition(MEMBER, "Uses one tenant", frozenset(member_permissions - PLATFORM_ONLY), True),
    }


def grantable(policies: Iterable[MethodPolicy]) -> frozenset[str]:
    """Permissions a tenant's custom role may hold: those of tenant-scoped RPCs, no wildcard."""
    return (
        frozenset({p.permission for p in policies if p.scope is Scope.TENANT and p.permission} - PLATFORM_ONLY)
        | MEMBER_PERMISSIONS
    )
