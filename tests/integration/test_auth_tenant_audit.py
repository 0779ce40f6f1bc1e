"""The audit of tenant lifecycle events (services/auth/audit.py): one entry per event, however
often the bus delivers it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from tenantmesh.events.v1 import events_pb2

from services.auth.app import CORE_MIGRATIONS
from services.auth.audit import TenantLifecycleAuditor
from services.auth.models import AuditEventRow
from services.runtime.events import Event
from services.runtime.ids import uuid7
from tests.support.routers import migrated_router


async def test_a_redelivered_tenant_event_is_audited_once(db_backend_url: str, tmp_path: Path) -> None:
    # Delivery is at least once: a consumer that dies after its handler and before the processed
    # marker leaves the entry to another one, which handles it again. Each delivery used to add
    # an audit entry, so the log claimed the tenant was suspended twice.
    async with migrated_router(db_backend_url, tmp_path, CORE_MIGRATIONS) as db:
        auditor = TenantLifecycleAuditor(db)
        tenant_id = uuid7()
        event = Event("tenant.suspended", tenant_id, events_pb2.TenantChanged(tenant_id=tenant_id, state="SUSPENDED"))
        for _ in range(2):
            await auditor.on_tenant_event(event)
        async with db.core_session() as session:
            count = await session.scalar(
                select(func.count()).select_from(AuditEventRow).where(AuditEventRow.tenant_id == tenant_id)
            )
        assert count == 1
