"""The JWT authenticator that fills the runtime's authentication slot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.runtime.auth.revocation import RevocationList
from services.runtime.auth.verifier import TokenVerifier
from services.runtime.context import GONE_STATES, Principal, TenantState
from services.runtime.errors import CommonReason, FailedPrecondition, Unauthenticated
from services.runtime.proto_values import copy_fields

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall
    from services.runtime.tenant_directory import TenantDirectory


class JwtAuthenticator:
    """Bearer tokens: signature, claims, revocation, and the token's tenant still active."""

    def __init__(self, verifier: TokenVerifier, revocations: RevocationList, tenants: TenantDirectory) -> None:
        self._verifier = verifier
        self._revocations = revocations
        self._tenants = tenants

    async def authenticate(self, call: IncomingCall) -> Principal | None:
        header = call.metadata.get("authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("expected 'authorization: Bearer <token>'", reason=CommonReason.TOKEN_INVALID)
        claims = await self._verifier.verify(token.strip())
        if self._revocations.is_revoked(claims):
            raise Unauthenticated("the session has been revoked", reason=CommonReason.TOKEN_REVOKED)
        tenant = await self._tenants.lookup(claims.tenant_id)
        if tenant is None or tenant.state in GONE_STATES:
            raise Unauthenticated("the token's tenant no longer exists", reason=CommonReason.TOKEN_INVALID)
        if tenant.state != TenantState.ACTIVE:
            raise FailedPrecondition("the token's tenant is suspended", reason=CommonReason.TENANT_SUSPENDED)
        return Principal(**copy_fields(claims, "subject", "tenant_id", "permissions", "session_id", "roles"))
