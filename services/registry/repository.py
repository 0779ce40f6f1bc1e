"""Queries on the registry's tables. Callers own the transaction.

Definitions are stored as JSON columns; this module is the only place that
knows their layout.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import semver
from services.registry.definitions import Form, HealthCheck, MenuEntry, Permission, ServiceDefinition
from services.registry.models import EnabledServiceRow, LeaseRow, ServiceRow, ServiceTagRow, ServiceVersionRow
from services.registry.schemas import dumps


@dataclass(frozen=True)
class VersionRecord:
    version: str
    contract_format: str
    # None when the contract was not loaded (lists); b"" when there is none.
    contract: bytes | None
    create_time: datetime


@dataclass(frozen=True)
class ServiceRecord:
    definition: ServiceDefinition
    versions: tuple[VersionRecord, ...]  # semantic-version order
    revision: int
    create_time: datetime
    update_time: datetime

    @property
    def name(self) -> str:
        return self.definition.name


# -- definitions as columns -----------------------------------------------------------------------


def definition_columns(definition: ServiceDefinition) -> dict[str, Any]:
    return {
        "display_name": definition.display_name or definition.name,
        "description": definition.description,
        "owner": definition.owner,
        "config_schema_json": dumps(definition.config_schema),
        "menu_entries_json": dumps([asdict(e) for e in definition.menu_entries]),
        "forms_json": dumps([asdict(f) for f in definition.forms]),
        "permissions_json": dumps([asdict(p) for p in definition.permissions]),
        "health_check_json": dumps(asdict(definition.health_check)),
    }


def definition_of(row: ServiceRow, tags: Sequence[str]) -> ServiceDefinition:
    return ServiceDefinition(
        name=row.name,
        kind=row.kind,
        display_name=row.display_name,
        description=row.description,
        owner=row.owner,
        tags=tuple(sorted(tags)),
        config_schema=json.loads(row.config_schema_json),
        menu_entries=tuple(MenuEntry(**e) for e in json.loads(row.menu_entries_json)),
        forms=tuple(Form(**f) for f in json.loads(row.forms_json)),
        permissions=tuple(Permission(**p) for p in json.loads(row.permissions_json)),
        health_check=HealthCheck(**json.loads(row.health_check_json)),
    )


# -- services -------------------------------------------------------------------------------------


async def get_row(session: AsyncSession, name: str, *, for_update: bool = False) -> ServiceRow | None:
    query = select(ServiceRow).where(ServiceRow.name == name)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_row_by_request_id(session: AsyncSession, request_id: str) -> ServiceRow | None:
    query = select(ServiceRow).where(ServiceRow.create_request_id == request_id)
    return (await session.execute(query)).scalar_one_or_none()


async def load_records(
    session: AsyncSession, rows: Sequence[ServiceRow], *, with_contracts: bool
) -> list[ServiceRecord]:
    """Attaches tags and versions to rows with two queries, whatever the number of rows."""
    names = [r.name for r in rows]
    if not names:
        return []
    tags: defaultdict[str, list[str]] = defaultdict(list)
    for tag in (await session.execute(select(ServiceTagRow).where(ServiceTagRow.service.in_(names)))).scalars():
        tags[tag.service].append(tag.tag)
    columns = [
        ServiceVersionRow.service,
        ServiceVersionRow.version,
        ServiceVersionRow.contract_format,
        ServiceVersionRow.create_time,
    ]
    if with_contracts:
        columns.append(ServiceVersionRow.contract)
    versions: defaultdict[str, list[VersionRecord]] = defaultdict(list)
    for item in await session.execute(select(*columns).where(ServiceVersionRow.service.in_(names))):
        versions[item.service].append(
            VersionRecord(
                version=item.version,
                contract_format=item.contract_format,
                contract=item.contract if with_contracts else None,
                create_time=item.create_time,
            )
        )
    return [
        ServiceRecord(
            definition=definition_of(row, tags[row.name]),
            versions=tuple(sorted(versions[row.name], key=lambda v: semver.sort_key(v.version))),
            revision=row.revision,
            create_time=row.create_time,
            update_time=row.update_time,
        )
        for row in rows
    ]


async def replace_tags(session: AsyncSession, name: str, tags: Sequence[str]) -> None:
    await session.execute(delete(ServiceTagRow).where(ServiceTagRow.service == name))
    session.add_all(ServiceTagRow(service=name, tag=tag) for tag in sorted(set(tags)))


async def list_rows(
    session: AsyncSession, *, kind: str, tags: Sequence[str], after: str | None, limit: int
) -> list[ServiceRow]:
    """A keyset page in name order."""
    query = select(ServiceRow).order_by(ServiceRow.name).limit(limit)
    if after is not None:
        query = query.where(ServiceRow.name > after)
    if kind:
        query = query.where(ServiceRow.kind == kind)
    for tag in tags:
        query = query.where(ServiceRow.name.in_(select(ServiceTagRow.service).where(ServiceTagRow.tag == tag)))
    return list((await session.execute(query)).scalars())


async def version_rows(session: AsyncSession, name: str) -> list[ServiceVersionRow]:
    rows = (await session.execute(select(ServiceVersionRow).where(ServiceVersionRow.service == name))).scalars()
    return sorted(rows, key=lambda r: semver.sort_key(r.version))


# -- enablement -----------------------------------------------------------------------------------


async def enabled_count(session: AsyncSession, service: str) -> int:
    query = select(func.count()).select_from(EnabledServiceRow).where(EnabledServiceRow.service == service)
    return int((await session.execute(query)).scalar_one())


async def enabling_tenants(session: AsyncSession, service: str) -> list[str]:
    """The tenants that have ``service`` enabled."""
    query = select(EnabledServiceRow.tenant_id).where(EnabledServiceRow.service == service)
    return list((await session.execute(query)).scalars())


async def get_enabled(
    session: AsyncSession, tenant_id: str, service: str, *, for_update: bool = False
) -> EnabledServiceRow | None:
    query = select(EnabledServiceRow).where(
        EnabledServiceRow.tenant_id == tenant_id, EnabledServiceRow.service == service
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_enabled_by_request_id(session: AsyncSession, tenant_id: str, request_id: str) -> EnabledServiceRow | None:
    query = select(EnabledServiceRow).where(
        EnabledServiceRow.tenant_id == tenant_id, EnabledServiceRow.create_request_id == request_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def list_enabled(session: AsyncSession, tenant_id: str, after: str | None, limit: int) -> list[EnabledServiceRow]:
    query = (
        select(EnabledServiceRow)
        .where(EnabledServiceRow.tenant_id == tenant_id)
        .order_by(EnabledServiceRow.service)
        .limit(limit)
    )
    if after is not None:
        query = query.where(EnabledServiceRow.service > after)
    return list((await session.execute(query)).scalars())


async def delete_tenant(session: AsyncSession, tenant_id: str) -> list[str]:
    """Drops every enablement of a tenant; returns the services it had enabled."""
    names = list(
        (
            await session.execute(select(EnabledServiceRow.service).where(EnabledServiceRow.tenant_id == tenant_id))
        ).scalars()
    )
    await session.execute(delete(EnabledServiceRow).where(EnabledServiceRow.tenant_id == tenant_id))
    return names


# -- leases ---------------------------------------------------------------------------------------


async def claim_lease(session: AsyncSession, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Takes or renews the lease ``name`` for ``holder``; False while another holder's is live."""
    result = await session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, (LeaseRow.holder == holder) | (LeaseRow.lease_until < now))
        .values(holder=holder, lease_until=until)
    )
    if getattr(result, "rowcount", 0) == 1:
        return True
    if (await session.execute(select(LeaseRow.name).where(LeaseRow.name == name))).scalar_one_or_none() is None:
        session.add(LeaseRow(name=name, holder=holder, lease_until=until))
        return True
    return False


async def release_lease(session: AsyncSession, name: str, holder: str) -> None:
    await session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
