"""Authorization: the principal must hold the permission the RPC declares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.runtime.context import principal_var
from services.runtime.errors import CommonReason, PermissionDenied

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall


async def authorization_stage(call: IncomingCall) -> None:
    if call.policy.public:
        return
    principal = principal_var.get()
    if principal is None or not principal.has_permission(call.policy.permission):
        raise PermissionDenied(
            "the caller lacks the permission this call needs",
            reason=CommonReason.PERMISSION_DENIED,
            metadata={"permission": call.policy.permission},
        )
