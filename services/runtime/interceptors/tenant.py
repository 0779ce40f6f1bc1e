"""Tenant context: tenant-scoped calls name an existing, active tenant.

The tenant comes from the ``x-tenant-id`` header, is looked up in the tenant
directory (cached, invalidated by tenant events) and must be the tenant of
the caller's token. Handlers then read it with ``current_tenant()``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from services.runtime.access import Scope
from services.runtime.context import GONE_STATES, TenantContext, TenantState, principal_var, tenant_var
from services.runtime.errors import CommonReason, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall
    from services.runtime.tenant_directory import TenantDirectory

TENANT_HEADER = "x-tenant-id"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class TenantStage:
    def __init__(self, directory: TenantDirectory) -> None:
        self._directory = directory

    async def __call__(self, call: IncomingCall) -> None:
        if call.policy.scope is not Scope.TENANT:
            return
        tenant_id = call.metadata.get(TENANT_HEADER, "").strip().lower()
        if not tenant_id:
            raise InvalidArgument(
                f"this call needs the {TENANT_HEADER} header", reason=CommonReason.TENANT_HEADER_MISSING
            )
        if not _UUID.fullmatch(tenant_id):
            # A slug is the usual mistake: say what the header takes (this reveals nothing
            # about which tenants exist).
            raise InvalidArgument(
                f"the {TENANT_HEADER} header takes the tenant's id (a UUID, as GetTenant and ListTenants "
                "show it), not its slug",
                reason=CommonReason.TENANT_HEADER_INVALID,
            )
        principal = principal_var.get()
        # Platform administrators reach into other tenants only through RPCs that say so.
        foreign = principal is not None and principal.tenant_id is not None and principal.tenant_id != tenant_id
        if foreign and not (call.policy.platform_override and principal is not None and principal.is_platform_admin):
            raise PermissionDenied("the token belongs to another tenant", reason=CommonReason.TENANT_MISMATCH)
        tenant_var.set(_usable(await self._directory.lookup(tenant_id)))

    async def recheck(self, call: IncomingCall) -> None:
        """For a stream this stage let in: refuses it from the next message on once its tenant is
        not active any more (suspended or deleted while the stream was open), as a new call is.

        A cached lookup: the directory drops the tenant when its change is announced."""
        if call.policy.scope is not Scope.TENANT:
            return
        admitted = tenant_var.get(None)
        if admitted is not None:
            _usable(await self._directory.lookup(admitted.tenant_id))


def _usable(tenant: TenantContext | None) -> TenantContext:
    """``tenant`` if calls may act on it; else the refusal a caller of it gets."""
    if tenant is None or tenant.state in GONE_STATES:
        raise NotFound("no such tenant", reason=CommonReason.TENANT_NOT_FOUND)
    if tenant.state == TenantState.SUSPENDED:
        raise FailedPrecondition("the tenant is suspended", reason=CommonReason.TENANT_SUSPENDED)
    if tenant.state != TenantState.ACTIVE:
        raise FailedPrecondition("the tenant is not ready yet", reason=CommonReason.TENANT_NOT_READY)
    return tenant
