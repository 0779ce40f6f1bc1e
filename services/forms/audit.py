"""The forms audit log: deletions of answers, in the tenant's database, written in the same
transaction as the deletion (the log never claims what did not happen, nor misses what did)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from services.forms.definitions import dumps
from services.forms.models import FormsAuditRow
from services.runtime.clock import utcnow
from services.runtime.context import principal_var, request_id_var
from services.runtime.ids import uuid7


def record(session: AsyncSession, action: str, *, target: str, details: Mapping[str, object] | None = None) -> None:
    principal = principal_var.get()
    session.add(
        FormsAuditRow(
            audit_id=uuid7(),
            action=action,
            actor=principal.subject if principal is not None else "system",
            target=target,
            details_json=dumps(dict(details or {})),
            request_id=request_id_var.get()[:64],
            create_time=utcnow(),
        )
    )
