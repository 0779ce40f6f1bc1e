"""Revoking sessions and subjects: records it and tells every service.

A revocation is stored where processes that start later load it from (Redis when
there is one, else the core database, in the transaction of its event) and sent as
an ``auth.revoked`` event through the outbox, so it reaches every process even if
this one dies right after deciding it.
"""

from __future__ import annotations

import time

from services.runtime.auth.revocation import Revocation, RevocationList, revocation_event, store_revocation
from services.runtime.auth.revocation_store import save_revocation
from services.runtime.unit_of_work import UnitOfWork


class Revoker:
    def __init__(
        self,
        work: UnitOfWork,
        redis_url: str | None,
        access_token_ttl_seconds: float,
        local: RevocationList | None = None,
    ) -> None:
        self._work = work
        # This process's own list takes effect before the call returns; other
        # processes follow as the event reaches them.
        self._local = local
        self._redis_url = redis_url
        # Once every token a revocation could match has expired, it can be forgotten.
        self._ttl = access_token_ttl_seconds + 60

    async def _send(self, revocation: Revocation) -> None:
        if self._local is not None:
            self._local.apply(revocation)
        if self._redis_url:
            await store_revocation(self._redis_url, revocation)
            await self._work.emit(revocation_event(revocation))
            return
        async with self._work.core_connection() as work:
            await save_revocation(work.conn, revocation)
            work.emit(revocation_event(revocation))

    async def revoke_session(self, session_id: str, tenant_id: str = "") -> None:
        """Every token of the session is refused from now on."""
        now = time.time()
        await self._send(Revocation("session", session_id, tenant_id, cutoff=now, expires=now + self._ttl))

    async def revoke_subject(self, subject: str, tenant_id: str = "") -> None:
        """Tokens of ``subject`` issued until now are refused (in ``tenant_id``, or everywhere if empty).

        Token issue times are whole seconds, so a token minted later within the
        same second is refused too: the error is on the safe side, and a new
        login a second later works.
        """
        now = time.time()
        await self._send(Revocation("subject", subject, tenant_id, cutoff=now, expires=now + self._ttl))
