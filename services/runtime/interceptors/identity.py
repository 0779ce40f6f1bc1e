"""Mesh identity: which platform service is calling, from its verified client certificate.

Headers the edge writes are believed from the edge alone: from any other caller they are
dropped before a later stage or handler could read them. Internal-only RPCs (a ``callers``
list in their access policy) answer only the services named there. Without mesh TLS
(``TENANTMESH_MESH_TLS=off``) no caller has an identity: edge headers are never believed,
and internal-only RPCs rest on their permission alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.runtime.context import acting_service_var, caller_identity_var
from services.runtime.errors import CommonReason, PermissionDenied
from services.runtime.interceptors.request_id import CLIENT_ADDRESS_HEADER
from services.runtime.mesh_tls import EDGE, peer_service

if TYPE_CHECKING:
    from services.runtime.access import MethodPolicy
    from services.runtime.interceptors.chain import IncomingCall

# The tenant of the token the edge verified (jwt_authn's claim_to_headers).
TOKEN_TENANT_HEADER = "x-tenantmesh-token-tenant"  # noqa: S105 - a header name
# Every header the edge writes on the requests it forwards.
EDGE_WRITTEN_HEADERS = (CLIENT_ADDRESS_HEADER, TOKEN_TENANT_HEADER)


class IdentityStage:
    """Runs first: records the serving service (for outgoing calls) and the calling one."""

    def __init__(self, served: str, trust_domain: str | None) -> None:
        self._served = served
        # None: mesh TLS is off, no caller has an identity.
        self._trust_domain = trust_domain

    async def __call__(self, call: IncomingCall) -> None:
        acting_service_var.set(self._served)
        if self._trust_domain is not None:
            call.peer_service = peer_service(call.context, self._trust_domain)
        caller_identity_var.set(call.peer_service)
        if call.peer_service != EDGE:
            for header in EDGE_WRITTEN_HEADERS:
                call.metadata.pop(header, None)


class CallerStage:
    """Refuses an internal-only RPC to any service its policy does not name, before authentication:
    a token alone (even the platform's service account's) does not make a caller internal."""

    def __init__(self, identities: bool) -> None:
        self._identities = identities

    async def __call__(self, call: IncomingCall) -> None:
        if self._identities:
            check_caller(call.policy, call.peer_service)


def check_caller(policy: MethodPolicy, caller: str | None) -> None:
    """Raises PermissionDenied when ``policy`` names its callers and ``caller`` is not one of them."""
    if policy.callers and caller not in policy.callers:
        raise PermissionDenied(
            "this RPC is internal to the platform and answers only the services allowed to call it",
            reason=CommonReason.CALLER_NOT_ALLOWED,
        )
