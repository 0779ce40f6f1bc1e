"""The audit log: append-only records of security-relevant actions.

Entries are written in the same transaction as the change they describe, so
the log never claims something that did not happen, nor misses what did.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import AuditEventRow
from services.runtime.clock import utcnow
from services.runtime.context import principal_var, request_id_var
from services.runtime.db import DatabaseRouter
from services.runtime.events import Event
from services.runtime.ids import uuid7
from services.runtime.paging import Page, page_of, page_request


def actor_of_current_call() -> str:
    principal = principal_var.get()
    return principal.subject if principal is not None else "anonymous"


def record(
    session: AsyncSession,
    action: str,
    *,
    tenant_id: str = "",
    target: str = "",
    actor: str | None = None,
    client_address: str = "",
    details: Mapping[str, str] | None = None,
) -> None:
    """Adds an audit entry to ``session``; it is written when the caller commits."""
    session.add(
        AuditEventRow(
            audit_event_id=uuid7(),
            tenant_id=tenant_id,
            action=action,
            actor=actor or actor_of_current_call(),
            target=target,
            client_address=client_address[:64],
            request_id=request_id_var.get(),
            details_json=json.dumps(dict(details or {}), sort_keys=True),
            create_time=utcnow(),
        )
    )


def actor_of_call_or(default: str) -> str:
    """The calling principal, or ``default`` for work the platform does on its own (startup)."""
    principal = principal_var.get()
    return principal.subject if principal is not None else default


async def list_events(
    session: AsyncSession,
    *,
    tenant_id: str | None,
    action_prefix: str,
    page_size: int,
    page_token: str,
) -> Page[AuditEventRow]:
    """A keyset page of entries, newest first; ``tenant_id`` None means every tenant (and platform entries)."""
    page, marker = page_request(page_size, page_token, "audit", tenant_id, action_prefix)
    query = select(AuditEventRow).order_by(AuditEventRow.audit_event_id.desc()).limit(page.limit)
    if tenant_id is not None:
        query = query.where(AuditEventRow.tenant_id == tenant_id)
    if action_prefix:
        query = query.where(AuditEventRow.action.startswith(action_prefix, autoescape=True))
    if page.after is not None:
        query = query.where(AuditEventRow.audit_event_id < page.after)
    rows = list((await session.execute(query)).scalars())
    return page_of(rows, page, marker, lambda row: row.audit_event_id)


class TenantLifecycleAuditor:
    """Writes the tenants service's lifecycle events into the audit log.

    The tenants service owns tenants, the auth service owns the audit log; they
    meet through events, which carry the actor and request id of the call that
    caused them.
    """

    def __init__(self, db: DatabaseRouter) -> None:
        self._db = db

    async def on_tenant_event(self, event: Event) -> None:
        # The entry takes the event's id: the bus delivers at least once (a consumer that dies
        # before acknowledging leaves the event to another), and a redelivery adds nothing.
        async with self._db.core_session() as session:
            if await session.get(AuditEventRow, event.id) is not None:
                return
            session.add(
                AuditEventRow(
                    audit_event_id=event.id,
                    tenant_id=event.tenant_id or "",
                    action=event.type,
                    actor=event.actor[:80],
                    target=f"tenant:{event.tenant_id}",
                    client_address="",
                    request_id=event.request_id[:128],
                    details_json=json.dumps({k: str(v) for k, v in event.payload_dict().items()}, sort_keys=True),
                    create_time=utcnow(),
                )
            )
            with contextlib.suppress(IntegrityError):  # written meanwhile by another delivery
                await session.commit()
