"""Operators' view of dead letters: list them, queue them again, or discard them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.sql.elements import ColumnElement

from services.runtime.db import DatabaseRouter, database_clock
from services.runtime.delivery.models import DeliveryRow, JobState


@dataclass(frozen=True)
class DeadLetter:
    job_id: str
    channel: str
    tenant_id: str | None
    topic: str
    attempts: int
    reason: str
    last_error: str
    create_time: datetime
    finish_time: datetime | None


async def list_dead_letters(db: DatabaseRouter, *, channel: str | None = None, limit: int = 100) -> list[DeadLetter]:
    """Dead jobs, newest first."""
    query = select(DeliveryRow).where(DeliveryRow.state == JobState.DEAD)
    if channel is not None:
        query = query.where(DeliveryRow.channel == channel)
    async with db.core_session() as session:
        rows = (await session.execute(query.order_by(DeliveryRow.job_id.desc()).limit(limit))).scalars()
        return [
            DeadLetter(
                job_id=row.job_id,
                channel=row.channel,
                tenant_id=row.tenant_id,
                topic=row.topic,
                attempts=row.attempts,
                reason=row.dead_reason or "",
                last_error=row.last_error or "",
                create_time=row.create_time,
                finish_time=row.finish_time,
            )
            for row in rows
        ]


def _dead(job_ids: Sequence[str] | None) -> ColumnElement[bool]:
    condition = DeliveryRow.state == JobState.DEAD
    if job_ids is not None:
        condition = condition & DeliveryRow.job_id.in_(job_ids)
    return condition


async def retry_dead_letters(db: DatabaseRouter, job_ids: Sequence[str] | None = None) -> int:
    """Queues dead jobs again (all of them when ``job_ids`` is None) with fresh attempts; returns how many.

    The job ids stay, so a receiver that did get an earlier attempt can still tell it is the same message.
    """
    async with db.core_session() as session:
        result = await session.execute(
            update(DeliveryRow)
            .where(_dead(job_ids))
            .where(DeliveryRow.payload.is_not(None))
            .values(
                state=JobState.PENDING,
                attempts=0,
                due_time=database_clock(),
                lease_token=None,
                dead_reason=None,
                finish_time=None,
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return int(getattr(result, "rowcount", 0))


async def discard_dead_letters(db: DatabaseRouter, job_ids: Sequence[str] | None = None) -> int:
    """Deletes dead jobs (all of them when ``job_ids`` is None); returns how many."""
    async with db.core_session() as session:
        result = await session.execute(
            delete(DeliveryRow).where(_dead(job_ids)).execution_options(synchronize_session=False)
        )
        await session.commit()
    return int(getattr(result, "rowcount", 0))
