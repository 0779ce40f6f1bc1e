"""Revoking sessions and subjects: records it and tells every service."""

from __future__ import annotations

import time

from services.runtime.auth.revocation import Revocation, publish_revocation
from services.runtime.events import EventBus


class Revoker:
    def __init__(self, events: EventBus, redis_url: str | None, access_token_ttl_seconds: float) -> None:
        self._events = events
        self._redis_url = redis_url
        # Once every token a revocation could match has expired, it can be forgotten.
        self._ttl = access_token_ttl_seconds + 60

    async def revoke_session(self, session_id: str, tenant_id: str = "") -> None:
        """Every token of the session is refused from now on."""
        now = time.time()
        await publish_revocation(
            self._events,
            Revocation("session", session_id, tenant_id, cutoff=now, expires=now + self._ttl),
            self._redis_url,
        )

    async def revoke_subject(self, subject: str, tenant_id: str = "") -> None:
        """Tokens of ``subject`` issued until now are refused (in ``tenant_id``, or everywhere if empty).

        Token issue times are whole seconds, so a token minted later within the
        same second is refused too: the error is on the safe side, and a new
        login a second later works.
        """
        now = time.time()
        await publish_revocation(
            self._events,
            Revocation("subject", subject, tenant_id, cutoff=now, expires=now + self._ttl),
            self._redis_url,
        )
