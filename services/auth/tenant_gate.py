"""Tokens are issued for usable tenants only.

Login refuses a tenant that is not active by not finding it; Refresh and ExchangeApiKey
start from a credential that names its tenant, so they ask here. A suspended tenant's
sessions and keys are kept (they work again once it is resumed) but mint nothing while
it is suspended; a deleted one's credentials are simply not valid any more.
"""

from __future__ import annotations

from services.runtime.context import GONE_STATES, PLATFORM_TENANT_ID, TenantState
from services.runtime.errors import CommonReason, FailedPrecondition, Unauthenticated
from services.runtime.tenant_directory import CachedTenantDirectory


async def require_usable_tenant(tenants: CachedTenantDirectory, tenant_id: str, gone: Unauthenticated) -> None:
    """Raises ``gone`` for a missing, deleting or deleted tenant, FAILED_PRECONDITION for one
    that is suspended or not ready."""
    if tenant_id == PLATFORM_TENANT_ID:
        # Never suspended or deleted; and the services' own key exchange at start-up must not
        # wait on a tenant lookup that itself needs the service's token.
        return
    tenant = await tenants.lookup(tenant_id)
    if tenant is None or tenant.state in GONE_STATES:
        raise gone
    if tenant.state == TenantState.SUSPENDED:
        raise FailedPrecondition("the tenant is suspended", reason=CommonReason.TENANT_SUSPENDED)
    if tenant.state != TenantState.ACTIVE:
        raise FailedPrecondition("the tenant is not ready yet", reason=CommonReason.TENANT_NOT_READY)
