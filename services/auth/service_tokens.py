"""Tokens for registered services: the caller's claims, with the service's own audience.

An external service behind the platform checks that a token was meant for it
(``aud`` = ``tenantmesh:service:<name>``); the platform accepts only its own
audience, so a service that receives such a token cannot replay it against the
platform's APIs. The token lives no longer than the caller's own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import jwt
from tenantmesh.registry.v1 import registry_service_pb2, registry_service_pb2_grpc, service_pb2

from services.auth.reasons import AuthReason
from services.auth.tokens import IssuedToken, TokenIssuer
from services.runtime.auth.claims import SERVICE_AUDIENCE_PREFIX
from services.runtime.context import authorization_var, current_principal
from services.runtime.errors import CommonReason, FailedPrecondition, NotFound, Unavailable

_LOOKUP_TIMEOUT_SECONDS = 5.0


def service_audience(service: str) -> str:
    return SERVICE_AUDIENCE_PREFIX + service


class RegistryLookup:
    """Asks the registry, with the auth service's own credentials, what kind a service is."""

    def __init__(
        self, channel: Callable[[], grpc.aio.Channel], metadata: Callable[[], Awaitable[tuple[tuple[str, str], ...]]]
    ) -> None:
        self._channel = channel
        self._metadata = metadata

    async def kind_of(self, service: str) -> int | None:
        """The service's kind, None when it is not registered."""
        stub: Any = registry_service_pb2_grpc.CatalogServiceStub(self._channel())
        try:
            response = await stub.GetService(
                registry_service_pb2.GetServiceRequest(name=service),
                metadata=await self._metadata(),
                timeout=_LOOKUP_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(
                "the service registry did not answer", reason=CommonReason.DEPENDENCY_UNAVAILABLE
            ) from None
        kind: int = response.service.kind
        return kind


class ServiceTokens:
    def __init__(self, issuer: TokenIssuer, registry: RegistryLookup) -> None:
        self._issuer = issuer
        self._registry = registry

    async def issue(self, service: str) -> tuple[IssuedToken, str]:
        kind = await self._registry.kind_of(service)
        if kind is None:
            raise NotFound(f"no registered service {service!r}", reason=AuthReason.SERVICE_NOT_FOUND)
        if kind != service_pb2.SERVICE_KIND_EXTERNAL_HTTP:
            raise FailedPrecondition(
                "tokens are issued for external services; the platform's own accept the caller's token",
                reason=AuthReason.SERVICE_NOT_EXTERNAL,
            )
        principal = current_principal()
        audience = service_audience(service)
        issued = await self._issuer.issue(
            subject=principal.subject,
            tenant_id=principal.tenant_id or "",
            session_id=principal.session_id or "",
            roles=principal.roles,
            permissions=principal.permissions,
            ttl_seconds=max(1, _seconds_left(authorization_var.get())),
            audience=audience,
        )
        return issued, audience


def _seconds_left(authorization: str) -> int:
    """Lifetime left of the caller's token (already verified by the runtime; read, not checked, here)."""
    token = authorization.removeprefix("Bearer ").strip()
    try:
        expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return 0
    return expires - int(time.time())
