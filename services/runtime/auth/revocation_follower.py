"""Revocations read from the core database while the event stream is out.

A process learns another process's revocations from the ``auth.revoked`` event. While its
Redis reader fails (or has not heard from Redis for a while) those events wait in the
outbox, yet each revocation is already in the core database (written in the transaction of
its event): so, while the stream is unhealthy, the process reads the revocations newer than
its high-water mark from there every second, and stops once the stream is back. A session
logged out during a Redis outage is then refused everywhere within about two seconds,
without refusing every token (authenticated reads keep working).

The high-water mark is the latest expiry applied; the query asks for rows expiring after it
less ``OVERLAP_SECONDS``. The overlap covers a revocation whose transaction committed after
a later one was read, and auth replicas whose clocks disagree (the expiry is counted on the
revoking process's clock): up to the two minutes of skew the fault suite tests. Entries are
applied idempotently, so reading one again costs nothing but the row.

If the core database is unreachable too, the process keeps the list it has: it cannot learn
of a revocation from anywhere, and refusing every token would stop every call. The exposure
is bounded by the access token's lifetime (docs/resilience.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from services.runtime.auth.revocation import RevocationList
from services.runtime.auth.revocation_store import load_revocations
from services.runtime.background import Periodic
from services.runtime.db import DatabaseRouter

log = logging.getLogger("tenantmesh.auth.revocation")

POLL_SECONDS = 1.0
OVERLAP_SECONDS = 300.0


class RevocationFollower:
    def __init__(
        self,
        db: DatabaseRouter,
        revocations: RevocationList,
        stream_healthy: Callable[[], bool],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._db = db
        self._revocations = revocations
        self._stream_healthy = stream_healthy
        self._polling = False
        self._database_failing = False
        self.polls = 0
        self._loop = Periodic("revocation-follower", self.round, poll_seconds, log)

    @property
    def polling(self) -> bool:
        """True while the stream is out and revocations come from the core database."""
        return self._polling

    async def round(self) -> None:
        if self._stream_healthy():
            if self._polling:
                log.info("event stream back: revocations follow its events again")
            self._polling = False
            return
        if not self._polling:
            log.warning("event stream unhealthy: reading revocations from the core database every second")
            self._polling = True
        await self.poll()

    async def poll(self) -> int:
        """Applies revocations stored since the high-water mark; returns how many rows were read."""
        since = self._revocations.newest_expires - OVERLAP_SECONDS
        try:
            read = await load_revocations(self._db, self._revocations, expiring_after=since)
        except (SQLAlchemyError, OSError):
            if not self._database_failing:
                log.warning("core database unreachable too: keeping the revocation list as it is", exc_info=True)
            self._database_failing = True
            return 0
        self._database_failing = False
        self.polls += 1
        return read

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
