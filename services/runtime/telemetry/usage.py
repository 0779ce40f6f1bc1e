"""Per-tenant usage: calls and failed calls per tenant per hour, counted cheaply.

Prometheus labels never take a tenant id (a series per tenant would not scale), so usage is
counted here instead: each process adds every call made for a tenant to an in-memory tally
(one dict update per call), and a background task adds the tally to the core table
``tenant_usage_hourly`` every ``TENANTMESH_USAGE_FLUSH_SECONDS`` (60) and when the process
stops, with one upsert per (tenant, hour) that had calls. Several processes and replicas add
to the same rows. TenantService.GetTenantUsage and ``tenantctl tenants usage`` read the table.

What counts is a call for a tenant that came in through the edge (the caller's mesh identity
is the edge's): the tenant's traffic. Calls the services make to each other while handling it
are not counted again, so one request that fans out inside the mesh counts once. Without mesh
TLS (``TENANTMESH_MESH_TLS=off``) no caller has an identity and every call for a tenant counts,
those between services included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from sqlalchemy import BigInteger, DateTime, Executable, MetaData, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.clock import epoch
from services.runtime.context import tenant_var
from services.runtime.db import DatabaseRouter, MigrationSet
from services.runtime.db.failures import database_failure
from services.runtime.db.upsert import upsert
from services.runtime.mesh_tls import EDGE

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall

log = logging.getLogger("tenantmesh.usage")

USAGE_MIGRATIONS = MigrationSet(
    service="usage", scope="core", directory=Path(__file__).parents[1] / "migrations" / "usage"
)


class _UsageBase(DeclarativeBase):
    metadata = MetaData()


class TenantUsageRow(_UsageBase):
    __tablename__ = "tenant_usage_hourly"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class UsageTally:
    """Calls counted since the last flush, by (tenant id, hour).

    Counted on every call, so the hour is kept as a plain number (hours since the epoch, on the
    process's clock as :func:`services.runtime.clock.epoch` reads it): building the hour's
    datetime per call cost more than everything else the count does. It becomes the stored
    datetime once per (tenant, hour) at a flush."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], list[int]] = {}

    def add(self, tenant_id: str, failed: bool) -> None:
        key = (tenant_id, int(epoch() // _HOUR_SECONDS))
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0]
        counts[0] += 1
        if failed:
            counts[1] += 1

    def take(self) -> dict[tuple[str, datetime], list[int]]:
        counts, self._counts = self._counts, {}
        return {(tenant_id, _hour_start(hour)): row for (tenant_id, hour), row in counts.items()}

    def give_back(self, counts: dict[tuple[str, datetime], list[int]]) -> None:
        """Counts a failed flush could not write: kept for the next one."""
        for (tenant_id, hour), (requests, errors) in counts.items():
            key = (tenant_id, _hour_number(hour))
            mine = self._counts.get(key)
            if mine is None:
                mine = self._counts[key] = [0, 0]
            mine[0] += requests
            mine[1] += errors


_HOUR_SECONDS = 3600


def _hour_start(hour: int) -> datetime:
    """The naive UTC datetime an hour number starts at (as stored)."""
    return datetime.fromtimestamp(hour * _HOUR_SECONDS, UTC).replace(tzinfo=None)


def _hour_number(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() // _HOUR_SECONDS)


class UsageObserver:
    """Counts every call for a tenant that came in through the edge (any, when callers have no identity)."""

    def __init__(self, tally: UsageTally, *, identities: bool) -> None:
        self._tally = tally
        self._identities = identities

    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        tenant = tenant_var.get()
        if tenant is None or (self._identities and call.peer_service != EDGE):
            return
        self._tally.add(tenant.tenant_id, code != grpc.StatusCode.OK)


def _upsert(dialect: str, tenant_id: str, hour: datetime, requests: int, errors: int) -> Executable:
    values = {"tenant_id": tenant_id, "hour": hour, "requests": requests, "errors": errors}
    return upsert(
        dialect,
        TenantUsageRow,
        [values],
        key=("tenant_id", "hour"),
        on_conflict=lambda new: {
            "requests": TenantUsageRow.requests + new.requests,
            "errors": TenantUsageRow.errors + new.errors,
        },
    )


class UsageRecorder:
    """The process's tally and the task that adds it to the core database."""

    def __init__(self, db: DatabaseRouter, flush_seconds: float = 60.0) -> None:
        self._db = db
        self._flush_seconds = flush_seconds
        self.tally = UsageTally()
        self._task: asyncio.Task[None] | None = None

    async def flush(self) -> int:
        """Adds what was counted to the table; returns how many (tenant, hour) rows it touched."""
        counts = self.tally.take()
        if not counts:
            return 0
        try:
            async with self._db.core_transaction() as conn:
                # In key order, so that processes flushing at the same moment lock the rows
                # they share in the same order instead of deadlocking on each other.
                for (tenant_id, hour), (requests, errors) in sorted(counts.items()):
                    await conn.execute(_upsert(self._db.dialect, tenant_id, hour, requests, errors))
                await conn.commit()
        except BaseException:
            self.tally.give_back(counts)
            raise
        return len(counts)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="usage-flush")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception as exc:
                # A database that is down or a lost race is expected now and then: one line.
                known = database_failure(exc) is not None
                log.warning("writing tenant usage failed; kept for the next flush", exc_info=not known)

    async def stop(self) -> None:
        """Stops the task and writes what is left (best effort: the database may be gone)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.warning("tenant usage of the last minute not written", exc_info=True)


async def usage_of(
    db: DatabaseRouter, tenant_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, int, int]]:
    """(hour, requests, errors) of ``tenant_id`` for the hours in [start, end), oldest first."""
    query = (
        select(TenantUsageRow.hour, TenantUsageRow.requests, TenantUsageRow.errors)
        .where(
            TenantUsageRow.tenant_id == tenant_id,
            TenantUsageRow.hour >= hour_of(start),
            TenantUsageRow.hour < end,
        )
        .order_by(TenantUsageRow.hour)
    )
    async with db.core_session() as session:
        return [(hour, int(requests), int(errors)) for hour, requests, errors in (await session.execute(query)).all()]
