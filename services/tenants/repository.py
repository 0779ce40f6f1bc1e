"""Queries on the tenants service's core tables. Callers own the transaction."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, Update, and_, bindparam, case, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import DeclarativeBase

from services.tenants.models import ProvisioningStepRow, TenantLabelRow, TenantRow
from services.tenants.states import StepState, TenantState

# Core tables for the provisioning hot path (plain INSERT/UPDATE, no unit of work).
TENANTS: Table = TenantRow.__table__  # type: ignore[assignment]
LABELS: Table = TenantLabelRow.__table__  # type: ignore[assignment]
STEPS: Table = ProvisioningStepRow.__table__  # type: ignore[assignment]


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
            tenant_id=row.tenant_id, step=name, position=i, state=StepState.PENDING, schema_version="", update_time=now
        )
        for i, name in enumerate(steps)
    )


def _values(obj: DeclarativeBase, table: Table) -> dict[str, object]:
    return {column.key: getattr(obj, column.key) for column in table.columns}


# Hot-path statements are built once (bound parameters named b_* so they never clash with
# the SET clause's own): building a statement costs more CPU than executing it.
_INSERT_TENANT = insert(TENANTS)
_INSERT_LABELS = insert(LABELS)
_INSERT_STEPS = insert(STEPS)
_RENEW_LEASE = (
    update(TENANTS).where(TENANTS.c.tenant_id == bindparam("b_tenant_id")).values(lease_until=bindparam("b_until"))
)
_ACTIVATE = (
    update(TENANTS)
    .where(TENANTS.c.tenant_id == bindparam("b_tenant_id"), TENANTS.c.state == TenantState.PROVISIONING)
    .values(state=TenantState.ACTIVE, lease_until=None, update_time=bindparam("b_now"), revision=TENANTS.c.revision + 1)
)


@functools.cache
def _steps_done_statement(versioned: int) -> Update:
    """Steps ``b_steps`` DONE; the first ``versioned`` of them (``b_step<i>``) get ``b_version<i>``."""
    values: dict[str, object] = {"state": StepState.DONE, "update_time": bindparam("b_now")}
    if versioned:
        values["schema_version"] = case(
            *((STEPS.c.step == bindparam(f"b_step{i}"), bindparam(f"b_version{i}")) for i in range(versioned)),
            else_=STEPS.c.schema_version,
        )
    return (
        update(STEPS)
        .where(STEPS.c.tenant_id == bindparam("b_tenant_id"), STEPS.c.step.in_(bindparam("b_steps", expanding=True)))
        .values(values)
    )


async def insert_tenant(conn: AsyncConnection, record: TenantRecord) -> None:
    """Inserts a new tenant's row, labels and steps (Core); the caller commits."""
    await conn.execute(_INSERT_TENANT, _values(record.row, TENANTS))
    if record.labels:
        await conn.execute(
            _INSERT_LABELS,
            [{"tenant_id": record.row.tenant_id, "label_key": k, "label_value": v} for k, v in record.labels.items()],
        )
    if record.steps:
        await conn.execute(_INSERT_STEPS, [_values(step, STEPS) for step in record.steps])


async def set_steps_done(
    conn: AsyncConnection, tenant_id: str, versions: Mapping[str, str | None], now: datetime
) -> None:
    """Marks several steps DONE in one statement; a step's schema_version is set unless None."""
    params: dict[str, object] = {"b_tenant_id": tenant_id, "b_steps": list(versions), "b_now": now}
    recorded = [(step, version) for step, version in versions.items() if version is not None]
    for i, (step, version) in enumerate(recorded):
        params[f"b_step{i}"] = step
        params[f"b_version{i}"] = version
    await conn.execute(_steps_done_statement(len(recorded)), params)


async def renew_lease(conn: AsyncConnection, tenant_id: str, until: datetime) -> None:
    await conn.execute(_RENEW_LEASE, {"b_tenant_id": tenant_id, "b_until": until})


async def activate(conn: AsyncConnection, tenant_id: str, now: datetime) -> bool:
    """PROVISIONING -> ACTIVE, lease released; False if the tenant was not PROVISIONING any more."""
    result = await conn.execute(_ACTIVATE, {"b_tenant_id": tenant_id, "b_now": now})
    return bool(result.rowcount == 1)


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
                state=StepState.PENDING,
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
    query = (
        select(TenantRow)
        .where(TenantRow.state.in_((TenantState.ACTIVE, TenantState.SUSPENDED)))
        .order_by(TenantRow.tenant_id)
    )
    if tenant_ids:
        query = query.where(TenantRow.tenant_id.in_(tenant_ids))
    return list((await session.execute(query)).scalars())
