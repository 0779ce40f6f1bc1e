"""What the auth service holds of a tenant goes when the tenant is deleted.

On ``tenant.deleted`` the tenant's memberships, custom roles, service accounts (their API
keys with them), invitations, second-factor policy and pending challenges are deleted, and
its sessions are ended, so none of it can be used or found again should an id ever come
back. Identities homed in the tenant that belong nowhere else now are deleted with their
second factor and mailed tokens: nobody could manage or use them any more, and a person's
data does not outlive the last tenant that held it. An identity that is still a member of
another tenant is kept (the person accepted that membership, and their login there must not
break); with its home gone only platform administrators manage it. The audit log is kept as
the record of what happened.

Delivered at least once: every step is idempotent.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import (
    InvitationRow,
    MembershipRow,
    MfaChallengeRow,
    MfaPolicyRow,
    RecoveryCodeRow,
    RoleRow,
    ServiceAccountRow,
    SessionRow,
    TotpRow,
    UserRow,
    UserTokenRow,
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
            await _delete_homeless_identities(session, tenant_id)
            await session.commit()


async def _delete_homeless_identities(session: AsyncSession, tenant_id: str) -> None:
    """Deletes the identities homed in ``tenant_id`` that are a member of no tenant any more."""
    member_elsewhere = exists().where(MembershipRow.user_id == UserRow.user_id)
    homeless = (
        await session.scalars(select(UserRow.user_id).where(UserRow.home_tenant_id == tenant_id, ~member_elsewhere))
    ).all()
    if not homeless:
        return
    for table in (TotpRow, RecoveryCodeRow, UserTokenRow, MfaChallengeRow):
        await session.execute(delete(table).where(table.user_id.in_(homeless)))
    await session.execute(delete(UserRow).where(UserRow.user_id.in_(homeless)))
