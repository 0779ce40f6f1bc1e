"""Queries on the tenants service's core tables. Callers own the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.tenants.models import ProvisioningStepRow, TenantLabelRow, TenantRow


@dataclass
class TenantRecord:
    """A tenant row with its labels and provisioning steps."""

    row: TenantRow
    labels: dict[str, str] = field(default_factory=dict)
    steps: list[ProvisioningStepRow] = field(default_factory=list)


async def get_row(session: AsyncSession, tenant_id: str, *, for_update: bool = False) -> TenantRow | None:
    query = select(TenantRow).where(TenantRow.tenant_id == tenant_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_row_by_slug(session: AsyncSession, slug: str) -> TenantRow | None:
    return (await session.execute(select(TenantRow).where(TenantRow.slug == slug))).scalar_one_or_none()


async def get_row_by_request_id(session: AsyncSession, request_id: str) -> TenantRow | None:
    query = select(TenantRow).where(TenantRow.create_request_id == request_id)
    return (await session.execute(query)).scalar_one_or_none()


async def load_records(session: AsyncSession, rows: Sequence[TenantRow]) -> list[TenantRecord]:
    """Attaches labels and steps to rows with two queries, whatever the number of rows."""
    ids = [r.tenant_id for r in rows]
    if not ids:
        return []
    labels: defaultdict[str, dict[str, str]] = defaultdict(dict)
    for label in (await session.execute(select(TenantLabelRow).where(TenantLabelRow.tenant_id.in_(ids)))).scalars():
        labels[label.tenant_id][label.label_key] = label.label_value
    steps: defaultdict[str, list[ProvisioningStepRow]] = defaultdict(list)
    step_query = (
        select(ProvisioningStepRow)
        .where(ProvisioningStepRow.tenant_id.in_(ids))
        .order_by(ProvisioningStepRow.tenant_id, ProvisioningStepRow.position)
    )
    for step in (await session.execute(step_query)).scalars():
        steps[step.tenant_id].append(step)
    return [TenantRecord(row=r, labels=labels[r.tenant_id], steps=steps[r.tenant_id]) for r in rows]


async def load_record(session: AsyncSession, row: TenantRow) -> TenantRecord:
    return (await load_records(session, [row]))[0]


async def add_tenant(
    session: AsyncSession, row: TenantRow, labels: Mapping[str, str], steps: Iterable[str], now: datetime
) -> None:
    session.add(row)
    # The child rows reference the tenant by foreign key and the models declare
    # no relationships, so the tenant row must reach the database first.
    await session.flush()
    session.add_all(TenantLabelRow(tenant_id=row.tenant_id, label_key=k, label_value=v) for k, v in labels.items())
    session.add_all(
        ProvisioningStepRow(
            tenant_id=row.tenant_id, step=name, position=i, state="PENDING", schema_version="", update_time=now
        )
        for i, name in enumerate(steps)
    )


async def replace_labels(session: AsyncSession, tenant_id: str, labels: Mapping[str, str]) -> None:
    await session.execute(delete(TenantLabelRow).where(TenantLabelRow.tenant_id == tenant_id))
    session.add_all(TenantLabelRow(tenant_id=tenant_id, label_key=k, label_value=v) for k, v in labels.items())


async def set_step(
    session: AsyncSession, tenant_id: str, step: str, state: str, now: datetime, schema_version: str | None = None
) -> None:
    values: dict[str, object] = {"state": state, "update_time": now}
    if schema_version is not None:
        values["schema_version"] = schema_version
    await session.execute(
        update(ProvisioningStepRow)
        .where(ProvisioningStepRow.tenant_id == tenant_id, ProvisioningStepRow.step == step)
        .values(**values)
    )


async def ensure_step(session: AsyncSession, tenant_id: str, step: str, now: datetime) -> None:
    """Adds a step row for a service that joined the platform after the tenant was created."""
    existing = await session.execute(
        select(ProvisioningStepRow.position).where(ProvisioningStepRow.tenant_id == tenant_id)
    )
    positions = list(existing.scalars())
    found = await session.execute(
        select(ProvisioningStepRow).where(ProvisioningStepRow.tenant_id == tenant_id, ProvisioningStepRow.step == step)
    )
    if found.scalar_one_or_none() is None:
        session.add(
            ProvisioningStepRow(
                tenant_id=tenant_id,
                step=step,
                position=max(positions, default=-1) + 1,
                state="PENDING",
                schema_version="",
                update_time=now,
            )
        )


async def list_rows(
    session: AsyncSession,
    *,
    states: Sequence[str],
    labels: Mapping[str, str],
    after: str | None,
    limit: int,
) -> list[TenantRow]:
    """A keyset page in tenant_id order (time-ordered ids, so creation order)."""
    query = select(TenantRow).where(TenantRow.state.in_(states)).order_by(TenantRow.tenant_id).limit(limit)
    if after is not None:
        query = query.where(TenantRow.tenant_id > after)
    for key, value in labels.items():
        label = select(TenantLabelRow.tenant_id).where(
            and_(TenantLabelRow.label_key == key, TenantLabelRow.label_value == value)
        )
        query = query.where(TenantRow.tenant_id.in_(label))
    return list((await session.execute(query)).scalars())


async def claim(session: AsyncSession, tenant_id: str, state: str, now: datetime, lease_until: datetime) -> bool:
    """Takes over a tenant whose worker's lease ran out; True if this caller won it."""
    result = await session.execute(
        update(TenantRow)
        .where(
            TenantRow.tenant_id == tenant_id,
            TenantRow.state == state,
            (TenantRow.lease_until.is_(None)) | (TenantRow.lease_until < now),
        )
        .values(lease_until=lease_until)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def stalled_tenant_ids(session: AsyncSession, states: Sequence[str], now: datetime) -> list[str]:
    query = select(TenantRow.tenant_id).where(
        TenantRow.state.in_(states), (TenantRow.lease_until.is_(None)) | (TenantRow.lease_until < now)
    )
    return list((await session.execute(query)).scalars())


async def migratable_rows(session: AsyncSession, tenant_ids: Sequence[str]) -> list[TenantRow]:
    query = select(TenantRow).where(TenantRow.state.in_(("ACTIVE", "SUSPENDED"))).order_by(TenantRow.tenant_id)
    if tenant_ids:
        query = query.where(TenantRow.tenant_id.in_(tenant_ids))
    return list((await session.execute(query)).scalars())
