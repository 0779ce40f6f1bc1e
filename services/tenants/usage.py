"""A tenant's calls per hour (counted by every process: services/runtime/telemetry/usage.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.telemetry.usage import usage_of
from services.tenants.manager import TenantManager

DEFAULT_RANGE = timedelta(hours=24)
LONGEST_RANGE = timedelta(days=31)


class TenantUsage:
    def __init__(self, db: DatabaseRouter, manager: TenantManager) -> None:
        self._db = db
        self._manager = manager

    async def hours(
        self, tenant_id: str, start: datetime | None, end: datetime | None
    ) -> list[tuple[datetime, int, int]]:
        """(hour, requests, errors) of the tenant in [start, end); defaults: the last 24 hours."""
        end = end or utcnow()
        if start is None:
            try:
                start = end - DEFAULT_RANGE
            except OverflowError:  # an end within a day of the first representable time
                raise InvalidArgument(
                    "the range starts before the first time", violations=[FieldViolation("start_time", "is required")]
                ) from None
        if end <= start:
            raise InvalidArgument(
                "the range is empty", violations=[FieldViolation("end_time", "must be after start_time")]
            )
        if end - start > LONGEST_RANGE:
            raise InvalidArgument(
                "the range is too long",
                violations=[FieldViolation("start_time", "must be at most 31 days before end_time")],
            )
        await self._manager.get(tenant_id)  # TENANT_NOT_FOUND for an unknown or deleted tenant
        return await usage_of(self._db, tenant_id, start, end)
