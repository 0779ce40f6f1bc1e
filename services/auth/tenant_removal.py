"""What the auth service holds of a tenant goes when the tenant is deleted.

On ``tenant.deleted`` the tenant's memberships, custom roles, service accounts (their API
keys with them), invitations, second-factor policy and pending challenges are deleted, and
its sessions are ended, so none of it can be used or found again should an id ever come
back. Identities homed in the tenant are kept: a person may still belong to other tenants,
and their login there must not break; the audit log is kept as the record of what happened.

Delivered at least once: every step is idempotent.
"""

from __future__ import annotations

from sqlalchemy import delete, update

from services.auth.models import (
    InvitationRow,
    MembershipRow,
    MfaChallengeRow,
    MfaPolicyRow,
    RoleRow,
    ServiceAccountRow,
    SessionRow,
)
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.events import Event

TENANT_DELETED = "tenant.deleted"


class TenantRemoval:
    def __init__(self, db: DatabaseRouter) -> None:
        self._db = db

    async def on_tenant_event(self, event: Event) -> None:
        if event.type != TENANT_DELETED or not event.tenant_id:
            return
        await self.remove(event.tenant_id)

    async def remove(self, tenant_id: str) -> None:
        async with self._db.core_session() as session:
            await session.execute(
                update(SessionRow)
                .where(SessionRow.tenant_id == tenant_id, SessionRow.revoke_time.is_(None))
                .values(revoke_time=utcnow(), revoke_reason="TENANT_DELETED")
            )
            for table in (MembershipRow, RoleRow, ServiceAccountRow, InvitationRow, MfaPolicyRow, MfaChallengeRow):
                await session.execute(delete(table).where(table.tenant_id == tenant_id))
            await session.commit()
