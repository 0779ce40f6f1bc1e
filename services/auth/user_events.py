"""user.* events: what changes who a tenant's users are, announced with the change's transaction.

Every such change is audited (services.auth.identities.record), so the audit entry
is where the event is added: to the core outbox, in the same session, committed
with the change and relayed like any other event (at the relay's next poll).
Seen from the tenant: a user is created when made there or when they join it,
updated when their profile, state or roles there change, deleted when they leave.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from tenantmesh.events.v1 import events_pb2

from services.runtime.events import Event
from services.runtime.outbox import OutboxRow, row_values

USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DELETED = "user.deleted"

# Audit actions and the event each announces.
ANNOUNCED = {
    "auth.user.created": USER_CREATED,
    "auth.membership.added": USER_CREATED,
    "auth.invitation.accepted": USER_CREATED,
    "auth.user.updated": USER_UPDATED,
    "auth.user.disabled": USER_UPDATED,
    "auth.user.email_changed": USER_UPDATED,
    "auth.membership.updated": USER_UPDATED,
    "auth.membership.removed": USER_DELETED,
}
_USER_PREFIX = "user:"


def announce(session: AsyncSession, action: str, tenant_id: str, subject: str) -> None:
    """Adds the event of an audited action on ``subject`` ("user:<id>") to the session, if it has one."""
    event_type = ANNOUNCED.get(action)
    if event_type is None or not subject.startswith(_USER_PREFIX):
        return
    user_id = subject.removeprefix(_USER_PREFIX)
    event = Event(event_type, tenant_id, events_pb2.UserChanged(user_id=user_id), producer="auth")
    session.add(OutboxRow(**row_values(event)))
