"""The dispatcher: claims due jobs under a lease, sends them, records the outcome.

Several processes may dispatch from one database. A job is claimed by a conditional
update on its attempt counter (the claim that moves it from n to n + 1 wins) which
also pushes its due time to the end of a lease; the outcome is recorded only under
the claim's token. So each attempt is made by one dispatcher, and a dispatcher that
dies mid-send leaves the job to whoever finds its lease expired. The window this
leaves: a receiver that accepted a message just before its sender died gets it again
after the lease. Channels send the job id along (mail: the Message-ID) so receivers
can deduplicate.

Due times (a claim's end, a retry's time) are written and compared on the database's
clock, so a dispatcher whose clock runs ahead takes over no job whose lease is live
elsewhere, and one running behind writes no lease that is over for the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy import delete, select, update

from services.runtime.background import STOP_TIMEOUT_SECONDS, stop_background
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, database_after, database_clock, database_now
from services.runtime.delivery.channel import Channel, Job, PermanentFailure, TransientFailure
from services.runtime.delivery.models import DeadReason, DeliveryRow, JobState, sealing_context
from services.runtime.delivery.settings import DeliverySettings
from services.runtime.sealing import Sealer, UnsealError

log = logging.getLogger("tenantmesh.delivery")

_ERROR_LENGTH = 500
_PURGE_EVERY_SECONDS = 3600.0


def backoff_seconds(failed_attempts: int, settings: DeliverySettings, rng: Callable[[], float]) -> float:
    """Delay after the n-th failed attempt: exponential, capped, the upper half jittered.

    Jitter spreads the retries of many jobs that failed together (a mail server
    outage), while the lower half keeps the delay from collapsing to nothing.
    """
    exponent = min(failed_attempts - 1, 62)
    ceiling = min(settings.retry_max_seconds, settings.retry_base_seconds * 2.0**exponent)
    return ceiling / 2 + rng() * ceiling / 2


class Dispatcher:
    def __init__(
        self,
        db: DatabaseRouter,
        sealer: Sealer,
        channels: Mapping[str, Channel],
        settings: DeliverySettings,
        *,
        stop_grace_seconds: float = STOP_TIMEOUT_SECONDS,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._channels = channels
        self._settings = settings
        self._rng = rng
        self._stop_grace = stop_grace_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._next_purge = 0.0

    def notify(self) -> None:
        """Tells the dispatcher that jobs were just committed (otherwise it polls)."""
        self._wake.set()

    async def dispatch_once(self) -> int:
        """Makes one attempt at each due job of a batch, oldest first; returns how many were due."""
        names = sorted(self._channels)
        if not names:
            return 0
        async with self._db.core_session() as session:
            due = (
                await session.execute(
                    select(DeliveryRow.job_id, DeliveryRow.attempts)
                    .where(DeliveryRow.state == JobState.PENDING)
                    .where(DeliveryRow.due_time <= database_clock())
                    .where(DeliveryRow.channel.in_(names))
                    .order_by(DeliveryRow.due_time)
                    .limit(self._settings.batch)
                )
            ).all()
        for job_id, attempts in due:
            if self._stopping:
                break
            claimed = await self._claim(job_id, attempts)
            if claimed is not None:
                await self._attempt(*claimed)
        return len(due)

    async def drain(self) -> None:
        while await self.dispatch_once() == self._settings.batch:
            pass

    async def _claim(self, job_id: str, seen_attempts: int) -> tuple[DeliveryRow, str] | None:
        token = secrets.token_hex(16)
        async with self._db.core_session() as session:
            now = await database_now(session, precise=True)
            result = await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.job_id == job_id)
                .where(DeliveryRow.attempts == seen_attempts)
                .where(DeliveryRow.state == JobState.PENDING)
                .where(DeliveryRow.due_time <= now)
                .values(
                    attempts=seen_attempts + 1,
                    lease_token=token,
                    due_time=now + timedelta(seconds=self._settings.lease_seconds),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return None  # another dispatcher took it
            row = (await session.execute(select(DeliveryRow).where(DeliveryRow.job_id == job_id))).scalar_one()
            await session.commit()
        return row, token

    async def _attempt(self, row: DeliveryRow, token: str) -> None:
        if row.payload is None:
            await self._dead(row, token, DeadReason.PAYLOAD_UNREADABLE, "no payload stored")
            return
        try:
            payload = json.loads(self._sealer.open(row.payload, sealing_context(row.job_id)))
        except UnsealError:
            await self._dead(
                row, token, DeadReason.PAYLOAD_UNREADABLE, "payload does not open under the key-encryption key"
            )
            return
        job = Job(row.job_id, row.channel, row.tenant_id, row.topic, row.attempts, payload)
        try:
            await self._channels[row.channel].deliver(job)
        except PermanentFailure as failure:
            await self._dead(row, token, failure.reason, failure.detail)
        except TransientFailure as failure:
            await self._failed(row, token, failure.detail)
        except Exception as exc:
            # A bug or an unforeseen error: retried like an outage, never lost; the
            # traceback shows where (it names no payload values).
            log.exception("delivery job %s (%s): unexpected error", row.job_id, row.topic)
            await self._failed(row, token, f"unexpected error: {type(exc).__name__}")
        else:
            await self._sent(row, token)

    async def _sent(self, row: DeliveryRow, token: str) -> None:
        recorded = await self._record(
            row,
            token,
            state=JobState.SENT,
            payload=None,  # the secrets it carried are not kept once delivered
            finish_time=utcnow(),
            last_error=None,
        )
        if recorded:
            log.info("delivery job %s (%s) sent on attempt %d", row.job_id, row.topic, row.attempts)

    async def _failed(self, row: DeliveryRow, token: str, detail: str) -> None:
        if row.attempts >= self._settings.max_attempts:
            await self._dead(row, token, DeadReason.ATTEMPTS_EXHAUSTED, detail)
            return
        delay = backoff_seconds(row.attempts, self._settings, self._rng)
        recorded = await self._record(row, token, retry_in=delay, last_error=detail[:_ERROR_LENGTH])
        if recorded:
            log.warning(
                "delivery job %s (%s) attempt %d failed, retrying in %.1f s: %s",
                row.job_id,
                row.topic,
                row.attempts,
                delay,
                detail,
            )

    async def _dead(self, row: DeliveryRow, token: str, reason: DeadReason, detail: str) -> None:
        recorded = await self._record(
            row,
            token,
            state=JobState.DEAD,
            dead_reason=reason,
            finish_time=utcnow(),
            last_error=detail[:_ERROR_LENGTH],
        )
        if recorded:
            log.error(
                "delivery job %s (%s) dead-lettered after attempt %d: %s: %s",
                row.job_id,
                row.topic,
                row.attempts,
                reason,
                detail,
            )

    async def _record(self, row: DeliveryRow, token: str, *, retry_in: float | None = None, **values: object) -> bool:
        """Writes an attempt's outcome if this claim still holds the job (due again in ``retry_in`` s)."""
        async with self._db.core_session() as session:
            if retry_in is not None:
                values["due_time"] = await database_after(session, retry_in, precise=True)
            result = await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.job_id == row.job_id)
                .where(DeliveryRow.lease_token == token)
                .values(lease_token=None, **values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        if getattr(result, "rowcount", 0) == 1:
            return True
        # The attempt outlived its lease and another dispatcher claimed the job meanwhile.
        log.warning("delivery job %s: lease expired during attempt %d; outcome not recorded", row.job_id, row.attempts)
        return False

    async def purge_sent(self) -> int:
        """Deletes sent jobs older than the retention; returns how many."""
        cutoff = utcnow() - timedelta(days=self._settings.retention_days)
        async with self._db.core_session() as session:
            result = await session.execute(
                delete(DeliveryRow)
                .where(DeliveryRow.state == JobState.SENT)
                .where(DeliveryRow.finish_time < cutoff)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0))

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="delivery-dispatcher")

    async def _loop(self) -> None:
        while not self._stopping:
            # Cleared before draining: a notify() during the drain is not lost.
            self._wake.clear()
            try:
                await self.drain()
                if time.monotonic() >= self._next_purge:
                    self._next_purge = time.monotonic() + _PURGE_EVERY_SECONDS
                    await self.purge_sent()
            except Exception:
                log.exception("dispatching deliveries failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.poll_seconds)

    async def stop(self) -> None:
        """Lets an attempt in progress finish (for the shutdown grace at most), then ends the loop."""
        task, self._task = self._task, None
        if task is None:
            return
        # Asked first rather than cancelled: a send cut short may have reached the receiver
        # and would be sent again after its lease.
        self._stopping = True
        self._wake.set()
        await asyncio.wait({task}, timeout=self._stop_grace)
        if not task.done():
            await stop_background(task)
