"""States of the tenants service's records: the proto enums' names without their prefix, as stored."""

from __future__ import annotations

from enum import StrEnum

from services.runtime.context import TenantState

__all__ = ["VISIBLE_STATES", "StepState", "TenantState"]


class StepState(StrEnum):
    """A provisioning step's state: tenantmesh.tenants.v1.StepState without its prefix."""

    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


# What a list shows when no state is asked for: everything but tombstones.
VISIBLE_STATES = tuple(state for state in TenantState if state != TenantState.DELETED)
