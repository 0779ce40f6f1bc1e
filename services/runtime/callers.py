"""What a call's mesh identity lets it do beyond its token's permissions."""

from __future__ import annotations

from services.runtime.context import caller_identity_var
from services.runtime.errors import CommonReason, PermissionDenied
from services.runtime.mesh_tls import EDGE, TENANTCTL


def check_acts_for(service: str) -> None:
    """Raises PermissionDenied when the caller is a service of the mesh other than ``service``.

    For RPCs about a named service's own resources (the registry's instances): a service's mesh
    certificate limits it to its own, whatever its token allows (every platform service holds the
    platform's service token). The edge and tenantctl act for people, whose permissions decide;
    without mesh TLS nobody has an identity and the permission alone decides.
    """
    caller = caller_identity_var.get()
    if caller is None or caller in (EDGE, TENANTCTL) or caller == service:
        return
    raise PermissionDenied(
        "a service acts only on its own instances",
        reason=CommonReason.CALLER_NOT_ALLOWED,
        metadata={"service": service},
    )
