"""Open access, for tests of domain behaviour: every caller is a platform operator.

Token authentication has its own tests (tests/grpc/test_auth_*, the isolation
matrices); tests of what a service does with a request plug this into the
runtime's authentication slot instead, so they need no auth service, no
tokens and no platform tenant.
"""

from __future__ import annotations

from services.runtime.context import Principal
from services.runtime.credentials import ServiceCredentials
from services.runtime.interceptors.authentication import Authenticator
from services.runtime.interceptors.chain import IncomingCall
from services.runtime.tenant_directory import TenantDirectory


class OpenAccessAuthenticator:
    """Treats every caller as a platform operator holding every permission."""

    async def authenticate(self, call: IncomingCall) -> Principal | None:
        return Principal(subject="anonymous-operator", tenant_id=None, permissions=frozenset({"*"}))


class NoCredentials:
    """Internal calls present nothing: every server of an open mesh lets them in."""

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


class OpenAccess:
    """The runtime's authentication slot, open (see the module docstring)."""

    @property
    def credentials(self) -> ServiceCredentials:
        return NoCredentials()

    def authenticator(self, directory: TenantDirectory) -> Authenticator:
        return OpenAccessAuthenticator()
