"""The audit log: append-only records of security-relevant actions.

Entries are written in the same transaction as the change they describe, so
the log never claims something that did not happen, nor misses what did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import AuditEventRow
from services.runtime.clock import utcnow
from services.runtime.context import principal_var, request_id_var
from services.runtime.ids import uuid7


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
