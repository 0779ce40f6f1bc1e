"""Authentication: turn the call's credentials into a Principal.

The stage is generic; *how* credentials are verified is an Authenticator
plugged in by the process (JWT verification against the auth service's
JWKS). Public RPCs run with whatever principal the credentials give, or none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from services.runtime.context import Principal, authorization_var, principal_var
from services.runtime.errors import CommonReason, Unauthenticated

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall


class Authenticator(Protocol):
    async def authenticate(self, call: IncomingCall) -> Principal | None:
        """The caller's principal, None without credentials; raises Unauthenticated for bad ones."""
        ...


class AuthenticationStage:
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def __call__(self, call: IncomingCall) -> None:
        # Kept so outgoing calls can forward the caller's credentials.
        authorization_var.set(call.metadata.get("authorization", ""))
        principal = await self._authenticator.authenticate(call)
        if principal is None and not call.policy.public:
            raise Unauthenticated("this call needs a bearer token", reason=CommonReason.CREDENTIALS_MISSING)
        principal_var.set(principal)
