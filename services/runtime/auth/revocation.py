"""Revoked sessions and subjects, held in memory by every service.

Revocation must take effect everywhere within a second without a call to the
auth service per request. The auth service publishes each revocation as an
``auth.revoked`` event (and, with Redis, stores it in a hash so a process that
starts later loads the current list); every process applies it to this list.

Two kinds of entries:
- a session: every token of that session is refused (logout, refresh reuse);
- a subject, optionally in one tenant, with a cut-off time: tokens issued at
  or before it are refused (user disabled, membership or roles changed,
  password changed). Newer tokens, issued after re-login, work.
Entries are dropped once no token they could match is still unexpired.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as redis
from tenantmesh.events.v1 import events_pb2

from services.runtime.auth.claims import AccessClaims
from services.runtime.events import Event, EventBus

REVOKED_EVENT = "auth.revoked"
REDIS_KEY = "tenantmesh:revocations"


@dataclass(frozen=True)
class Revocation:
    kind: str  # "session" or "subject"
    key: str  # session id, or subject
    tenant_id: str  # "" for every tenant
    cutoff: float  # tokens issued at or before this (epoch seconds) are refused
    expires: float  # after this no matching token can still be valid

    @property
    def entry_key(self) -> str:
        return f"{self.kind}:{self.key}:{self.tenant_id}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Revocation:
        return cls(
            kind=str(data["kind"]),
            key=str(data["key"]),
            tenant_id=str(data.get("tenant_id", "")),
            cutoff=float(data["cutoff"]),
            expires=float(data["expires"]),
        )


class RevocationList:
    # Expired entries are swept every this many additions, keeping memory bounded
    # by the revocations of one token lifetime.
    SWEEP_EVERY = 1000

    def __init__(self) -> None:
        self._sessions: dict[str, Revocation] = {}
        self._subjects: dict[tuple[str, str], Revocation] = {}
        self._added = 0
        # The latest expiry applied: new revocations expire after it, which is what the core
        # database is asked for while the event stream is out (revocation_follower.py).
        self.newest_expires = 0.0

    def apply(self, revocation: Revocation) -> None:
        if revocation.expires <= time.time():
            return
        self._added += 1
        self.newest_expires = max(self.newest_expires, revocation.expires)
        if self._added % self.SWEEP_EVERY == 0:
            self.prune()
        if revocation.kind == "session":
            self._sessions[revocation.key] = revocation
        else:
            slot = (revocation.key, revocation.tenant_id)
            current = self._subjects.get(slot)
            if current is None or current.cutoff < revocation.cutoff:
                self._subjects[slot] = revocation

    def is_revoked(self, claims: AccessClaims) -> bool:
        if claims.session_id in self._sessions:
            return True
        for tenant in ("", claims.tenant_id):
            entry = self._subjects.get((claims.subject, tenant))
            if entry is not None and claims.issued_at <= entry.cutoff:
                return True
        return False

    def prune(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._sessions = {k: v for k, v in self._sessions.items() if v.expires > now}
        self._subjects = {k: v for k, v in self._subjects.items() if v.expires > now}

    def subscribe(self, events: EventBus) -> None:
        events.subscribe(REVOKED_EVENT, self._on_event)

    async def _on_event(self, event: Event) -> None:
        self.apply(Revocation.from_dict(event.payload_dict()))

    async def load_from_redis(self, url: str) -> None:
        """Seeds the list with every revocation still in force (multi-process deployments)."""
        client = redis.from_url(url)
        try:
            now = time.time()
            expired = []
            for field, raw in (await client.hgetall(REDIS_KEY)).items():
                revocation = Revocation.from_dict(json.loads(raw))
                if revocation.expires <= now:
                    expired.append(field)
                else:
                    self.apply(revocation)
            # Entries no token can match any more are dropped here, by whoever starts next.
            if expired:
                await client.hdel(REDIS_KEY, *expired)
        finally:
            await client.aclose()


def revocation_event(revocation: Revocation) -> Event:
    return Event(REVOKED_EVENT, revocation.tenant_id or None, events_pb2.Revocation(**asdict(revocation)))


async def store_revocation(redis_url: str, revocation: Revocation) -> None:
    """Keeps the revocation where processes that start later load it from."""
    client = redis.from_url(redis_url)
    try:
        await client.hset(REDIS_KEY, revocation.entry_key, revocation.to_json())
    finally:
        await client.aclose()
