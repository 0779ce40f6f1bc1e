"""The tenants service's ErrorInfo reasons."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class TenantsReason(Reason):
    PLATFORM_TENANT_PROTECTED = auto()
    PROVISIONING_FAILED = auto()
    PURGE_INCOMPLETE = auto()
    TENANT_DATABASE_CONFLICT = auto()
    # DeleteTenant of a tenant whose database move (tenantctl tenants move) is unfinished.
    TENANT_MOVE_UNFINISHED = auto()
    TENANT_PROVISIONING = auto()
    TENANT_SLUG_TAKEN = auto()
    TENANT_STATE_CONFLICT = auto()
