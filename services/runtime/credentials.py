"""The credentials a service presents on its own internal calls.

Lifecycle calls, tenant lookups and other platform work are done by the
service itself, not on behalf of the caller (a background reconciler has no
caller), so they carry the service's own token. Outside the auth service that
token comes from exchanging the platform service account's API key; inside
it, the auth service mints its own. Tokens are reused until shortly before
they expire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import grpc
from tenantmesh.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

from services.runtime.errors import CommonReason, Unavailable

# Renew this long before expiry, so a token never expires mid-call.
_RENEW_MARGIN_SECONDS = 60.0
_EXCHANGE_TIMEOUT_SECONDS = 10.0
_EXCHANGE_FIRST_ATTEMPT_SECONDS = 2.0

TokenMint = Callable[[], Awaitable[tuple[str, float]]]  # -> (token, expires_at epoch seconds)


class ServiceCredentials(Protocol):
    async def metadata(self) -> tuple[tuple[str, str], ...]:
        """The ``authorization`` metadata for an internal call."""
        ...


class CachedTokenCredentials:
    def __init__(self, mint: TokenMint) -> None:
        self._mint = mint
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        if time.time() > self._expires_at - _RENEW_MARGIN_SECONDS:
            async with self._lock:
                if time.time() > self._expires_at - _RENEW_MARGIN_SECONDS:
                    self._token, self._expires_at = await self._mint()
        return (("authorization", f"Bearer {self._token}"),)


def api_key_credentials(
    api_key: Callable[[], str | None], auth_channel: Callable[[], grpc.aio.Channel]
) -> ServiceCredentials:
    """Credentials from exchanging the API key ``api_key()`` returns (read at each renewal)."""

    async def exchange() -> tuple[str, float]:
        key = api_key()
        if not key:
            raise Unavailable(
                "no service API key configured (TENANTMESH_SERVICE_API_KEY)",
                reason=CommonReason.SERVICE_CREDENTIALS_MISSING,
            )
        # Up to 10 s for an auth service that is starting, in attempts of 2 s, 4 s, then the rest:
        # the channel is chosen by the auth address known when an attempt starts, which in a
        # process whose auth server binds a fresh port may be stale for its first moments (every
        # other caller of this process waits behind the lock meanwhile); a slow but reachable auth
        # still gets the longer attempts.
        deadline = time.monotonic() + _EXCHANGE_TIMEOUT_SECONDS
        attempt = _EXCHANGE_FIRST_ATTEMPT_SECONDS
        while True:
            stub: Any = auth_service_pb2_grpc.AuthServiceStub(auth_channel())
            attempt = min(attempt, max(deadline - time.monotonic(), 0.1))
            try:
                response = await stub.ExchangeApiKey(
                    auth_service_pb2.ExchangeApiKeyRequest(api_key=key), timeout=attempt, wait_for_ready=True
                )
                break
            except grpc.aio.AioRpcError as error:
                retryable = error.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
                if not retryable or time.monotonic() >= deadline:
                    raise
                attempt *= 2
        tokens = response.tokens
        return tokens.access_token, tokens.access_token_expire_time.ToSeconds()

    return CachedTokenCredentials(exchange)
