"""Recently read tenants, for GetTenant.

Reading a tenant is the hot path (every service's tenant directory and every
console page asks for it) and changes are rare, so answers are kept for a few
seconds. Changes made through this replica drop the entry at once; changes
made by other replicas drop it when their tenant event arrives, and the short
lifetime bounds staleness if an event is lost.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from tenantmesh.tenants.v1 import tenant_pb2

from services.runtime.events import Event, EventBus

DEFAULT_TTL_SECONDS = 5.0


class TenantViewCache:
    def __init__(self, events: EventBus, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, tenant_pb2.Tenant]] = {}
        events.subscribe("tenant.", self._on_event)

    def get(self, tenant_id: str) -> tenant_pb2.Tenant | None:
        entry = self._entries.get(tenant_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[tenant_id]
            return None
        return entry[1]

    def put(self, tenant: tenant_pb2.Tenant) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude, but bounded; a cache miss is only a read
        self._entries[tenant.tenant_id] = (time.monotonic() + self._ttl, tenant)

    def invalidate(self, tenant_id: str) -> None:
        self._entries.pop(tenant_id, None)

    @contextlib.contextmanager
    def invalidating(self, tenant_id: str) -> Iterator[None]:
        """Drops the tenant's view after the block, also when it fails: a failed change may have written."""
        try:
            yield
        finally:
            self.invalidate(tenant_id)

    async def _on_event(self, event: Event) -> None:
        if event.tenant_id:
            self.invalidate(event.tenant_id)
