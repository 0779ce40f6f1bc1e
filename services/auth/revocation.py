"""Revoking sessions and subjects: records it and tells every service.

A revocation is stored where processes that start later load it from (the core
database, in the transaction of its event, and with Redis also its hash) and sent as
an ``auth.revoked`` event through the outbox, so it reaches every process even if
this one dies right after deciding it, or Redis is down when it is decided.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as redis

from services.runtime.auth.revocation import Revocation, RevocationList, revocation_event, store_revocation
from services.runtime.auth.revocation_store import save_revocation
from services.runtime.auth.verifier import outlived_after_seconds
from services.runtime.unit_of_work import UnitOfWork

log = logging.getLogger("tenantmesh.auth.revocation")


class Revoker:
    def __init__(
        self,
        work: UnitOfWork,
        redis_url: str | None,
        token_ttl_seconds: float,
        local: RevocationList | None = None,
    ) -> None:
        self._work = work
        # This process's own list takes effect before the call returns; other
        # processes follow as the event reaches them.
        self._local = local
        self._redis_url = redis_url
        self._ttl = outlived_after_seconds(token_ttl_seconds)

    async def _send(self, revocation: Revocation) -> None:
        if self._local is not None:
            self._local.apply(revocation)
        # Always in the core database with its event: a logout while Redis is down must still
        # succeed, reach every process through the outbox once Redis is back, and be known to
        # processes that start later (the fault suite's Redis outage answered it INTERNAL).
        async with self._work.core_connection() as work:
            await save_revocation(work.conn, revocation)
            work.emit(revocation_event(revocation))
        if self._redis_url:
            try:
                await store_revocation(self._redis_url, revocation)
            except redis.RedisError:
                log.warning("revocation not mirrored to Redis; the core database has it", exc_info=True)

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
