"""What happens around every call: token, tenant header, deadline, request_id, retries with
backoff, renewal on UNAUTHENTICATED, typed errors. One policy, a sync and an async driver."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from tenantmesh_sdk._credentials import Credentials, Token
from tenantmesh_sdk._errors import TenantmeshError

TENANT_HEADER = "x-tenant-id"
AUTHORIZATION = "authorization"
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
_MAX_DELAY_S = 5.0
_MAX_SERVER_DELAY_S = 30.0

Metadata = list[tuple[str, str | bytes]]


@dataclass(frozen=True)
class CallPolicy:
    """Client-wide settings of every call."""

    # Deadline of unary calls without their own `timeout=`; streams have none by default.
    timeout: float | None = 30.0
    # Attempts of a retryable call (first try included).
    max_attempts: int = 4
    # First backoff; doubles per attempt, with jitter, capped at 5 s.
    initial_backoff: float = 0.1

    def backoff(self, attempt: int, error: TenantmeshError) -> float:
        if error.retry_delay is not None:
            return min(error.retry_delay, _MAX_SERVER_DELAY_S)
        delay: float = min(self.initial_backoff * 2**attempt, _MAX_DELAY_S)
        return delay * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not a secret

    def should_retry(self, error: TenantmeshError, attempt: int, retryable: bool) -> bool:
        return retryable and error.code() in RETRYABLE and attempt + 1 < self.max_attempts

    def deadline(self, timeout: float | None) -> float | None:
        """The call's overall deadline (``time.monotonic()``), fixed when it starts: every attempt,
        and every wait between attempts, must fit before it."""
        limit = self.timeout if timeout is None else timeout
        return None if limit is None else time.monotonic() + limit

    def retry_delay(
        self, error: TenantmeshError, attempt: int, retryable: bool, deadline: float | None
    ) -> float | None:
        """How long to wait before the next attempt, or None to give up (raise ``error``): not
        retryable, out of attempts, or the wait would end past the call's deadline."""
        if not self.should_retry(error, attempt, retryable):
            return None
        delay = self.backoff(attempt, error)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        return delay


def remaining(deadline: float | None) -> float | None:
    """The time an attempt gets: what is left of the call's deadline (None: no deadline)."""
    return None if deadline is None else deadline - time.monotonic()


@dataclass
class TokenState:
    """The current access token of a client (shared by its per-tenant siblings)."""

    credentials: Credentials | None
    token: Token | None = None
    sync_lock: threading.Lock = field(default_factory=threading.Lock)
    async_lock: asyncio.Lock | None = None

    def stale(self, previous: Token | None, force: bool) -> bool:
        if self.token is None or not self.token.fresh():
            return True
        # Forced renewal after UNAUTHENTICATED: unless someone renewed since that call started.
        return force and self.token is previous

    def lock(self) -> asyncio.Lock:
        if self.async_lock is None:
            self.async_lock = asyncio.Lock()
        return self.async_lock


def call_metadata(
    given: Sequence[tuple[str, str | bytes]] | None, token: Token | None, tenant_id: str | None
) -> Metadata:
    """The caller's metadata plus the token and the tenant header, unless the caller set them."""
    metadata: Metadata = list(given or ())
    keys = {key for key, _ in metadata}
    if token is not None and AUTHORIZATION not in keys:
        metadata.append((AUTHORIZATION, f"Bearer {token.access_token}"))
    tenant = tenant_id or (token.tenant_id if token is not None else "")
    if tenant and TENANT_HEADER not in keys:
        metadata.append((TENANT_HEADER, tenant))
    return metadata
