"""The registry's events, written from this one module.

Domain code records an event on the session that makes the change, inside the
transaction: it goes to the transactional outbox and commits (or rolls back)
with the change; :meth:`RegistryEvents.transaction` wakes the relay after the
commit, which publishes it on the bus. Payloads are the messages of
tenantmesh/registry/v1/events.proto.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession
from tenantmesh.registry.v1 import events_pb2, instance_pb2, service_pb2

from services.runtime.db import DatabaseRouter
from services.runtime.events import Event

# Adds an event to a session's transaction (Runtime.emit).
Emit = Callable[[AsyncSession, Event, str], None]

PRODUCER = "registry"
SERVICE_REGISTERED = "service.registered"
SERVICE_UPDATED = "service.updated"
SERVICE_DELETED = "service.deleted"
TENANT_SERVICE_ENABLED = "tenant_service.enabled"
TENANT_SERVICE_DISABLED = "tenant_service.disabled"
# The tenant changed its configuration of the service.
TENANT_SERVICE_UPDATED = "tenant_service.updated"
INSTANCE_CHANGED = "instance.changed"

ADDED = events_pb2.CHANGE_TYPE_ADDED
UPDATED = events_pb2.CHANGE_TYPE_UPDATED
REMOVED = events_pb2.CHANGE_TYPE_REMOVED


class RegistryEvents:
    def __init__(self, db: DatabaseRouter, emit: Emit, committed: Callable[[], None]) -> None:
        self._db = db
        self._emit = emit
        self._committed = committed

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A core session committed on exit, with the events recorded on it."""
        async with self._db.core_session() as session:
            yield session
            await session.commit()
        self._committed()

    def _record(self, session: AsyncSession, event: Event) -> None:
        self._emit(session, event, PRODUCER)

    def service_changed(self, session: AsyncSession, event_type: str, service: service_pb2.Service) -> None:
        self._record(session, Event(event_type, None, events_pb2.ServiceChanged(service=service)))

    def tenant_service_changed(self, session: AsyncSession, event_type: str, tenant_id: str, service: str) -> None:
        self._record(
            session,
            Event(event_type, tenant_id, events_pb2.TenantServiceChanged(service=service)),
        )

    def instance_changed(
        self, session: AsyncSession, change: events_pb2.ChangeType, instance: instance_pb2.Instance
    ) -> None:
        self._record(
            session,
            Event(
                INSTANCE_CHANGED,
                None,
                events_pb2.InstanceChanged(change=change, instance=instance),
            ),
        )
