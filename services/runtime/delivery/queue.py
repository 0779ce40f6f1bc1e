"""Queuing: a job is a row written in the producer's transaction, its payload sealed.

A process that sends or queues deliveries has one :class:`Delivery` (made by
``Runtime.enable_delivery``). Producers hold only their database session, so the
Delivery is found through it: every core session names its router, and each router
has at most one Delivery. After the producer's commit the process's dispatcher is
woken, so a message goes out at once rather than at the next poll.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, core_router_of, database_clock, upgrade_core
from services.runtime.delivery.channel import Channel
from services.runtime.delivery.dispatcher import Dispatcher
from services.runtime.delivery.models import (
    DELIVERY_MIGRATIONS,
    DeliveryRow,
    JobState,
    sealing_context,
)
from services.runtime.delivery.settings import DeliverySettings
from services.runtime.ids import uuid7
from services.runtime.sealing import Sealer

_BY_ROUTER: weakref.WeakKeyDictionary[DatabaseRouter, Delivery] = weakref.WeakKeyDictionary()
# Set on a session while a wake-up after its commit is pending (one listener per session).
_WAKE_PENDING = "tenantmesh.delivery_wake_pending"


class DeliveryNotEnabled(RuntimeError):
    """Queued from a process (or a session) without delivery: a programming error."""


class Delivery:
    """The outbound delivery queue of one process: sealing, queuing, and its dispatcher."""

    def __init__(
        self, db: DatabaseRouter, sealer: Sealer, settings: DeliverySettings, *, stop_grace_seconds: float = 5.0
    ) -> None:
        if db in _BY_ROUTER:
            raise RuntimeError("this database router already has a delivery queue")
        self._db = db
        self._sealer = sealer
        self.settings = settings
        self._channels: dict[str, Channel] = {}
        self.dispatcher = Dispatcher(db, sealer, self._channels, settings, stop_grace_seconds=stop_grace_seconds)
        self._migrated = False
        _BY_ROUTER[db] = self

    @classmethod
    def of(cls, session: AsyncSession) -> Delivery:
        """The Delivery of the process a core session belongs to."""
        router = core_router_of(session)
        if router is None:
            raise DeliveryNotEnabled("deliveries are queued in a core database session (DatabaseRouter.core_session)")
        delivery = _BY_ROUTER.get(router)
        if delivery is None:
            raise DeliveryNotEnabled("delivery is not enabled in this process (Runtime.enable_delivery)")
        return delivery

    def serve(self, channel: Channel) -> None:
        """Makes this process's dispatcher send the channel's jobs."""
        if channel.name in self._channels:
            raise RuntimeError(f"channel {channel.name!r} is already served")
        self._channels[channel.name] = channel

    def serves(self, name: str) -> bool:
        return name in self._channels

    def add(
        self,
        session: AsyncSession,
        channel: str,
        payload: Mapping[str, Any],
        *,
        topic: str,
        tenant_id: str | None = None,
    ) -> str:
        """Adds a job to the session's transaction; returns its id (stable across attempts)."""
        job_id = uuid7()
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        session.add(
            DeliveryRow(
                job_id=job_id,
                channel=channel,
                tenant_id=tenant_id,
                topic=topic,
                state=JobState.PENDING,
                attempts=0,
                # Due at once on the clock dispatchers judge it by (the database's, set by
                # the INSERT): on this process's, a producer ahead would hold it back.
                due_time=database_clock(),
                lease_token=None,
                payload=self._sealer.seal(body, sealing_context(job_id)),
                create_time=utcnow(),
                finish_time=None,
                dead_reason=None,
                last_error=None,
            )
        )
        self._wake_after_commit(session)
        return job_id

    def _wake_after_commit(self, session: AsyncSession) -> None:
        sync_session = session.sync_session
        if sync_session.info.get(_WAKE_PENDING):
            return
        sync_session.info[_WAKE_PENDING] = True
        dispatcher = self.dispatcher

        def committed(committed_session: Session) -> None:
            committed_session.info.pop(_WAKE_PENDING, None)
            dispatcher.notify()

        # Fires once, on the commit that makes the rows visible; a rollback leaves it armed
        # for the session's next commit (a spare wake-up costs one query).
        event.listen(sync_session, "after_commit", committed, once=True)

    async def migrate(self) -> None:
        """Brings the table to head (once per process)."""
        if not self._migrated:
            await upgrade_core(self._db, DELIVERY_MIGRATIONS)
            self._migrated = True

    async def start(self) -> None:
        """Migrates, then starts the dispatcher if this process serves a channel."""
        await self.migrate()
        if self._channels:
            self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()


def enqueue(
    session: AsyncSession,
    channel: str,
    payload: Mapping[str, Any],
    *,
    topic: str,
    tenant_id: str | None = None,
) -> str:
    """Queues a delivery in the caller's transaction (see Delivery.add); returns the job id."""
    return Delivery.of(session).add(session, channel, payload, topic=topic, tenant_id=tenant_id)
