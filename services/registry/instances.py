"""Instances and their leases: the domain behind InstanceService and ResolveService.

An instance lives while its lease does. Every read leaves out instances whose
lease has run out, so an expired instance is gone at once for callers, and
the sweep (run by the health checker) deletes the rows and tells watchers.

Leases are written (register, heartbeat) and judged (reads, the sweep) by whichever
replica a call reaches, so they are counted on the database's clock: a replica whose
clock runs ahead expires no live instance, one running behind writes no lease that is
already over for the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import convert
from services.registry import repository as repo
from services.registry.catalogue import service_not_found
from services.registry.definitions import HealthCheck, HealthState, ServiceKind
from services.registry.events import ADDED, REMOVED, UPDATED, instance_changed
from services.registry.models import InstanceRow, ServiceRow, ServiceVersionRow
from services.registry.reasons import RegistryReason
from services.runtime.callers import check_acts_for
from services.runtime.db import DatabaseRouter, LeaseClock, database_now
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.ids import uuid7
from services.runtime.paging import Page, page_of, page_request
from services.runtime.unit_of_work import UnitOfWork

_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})")


@dataclass(frozen=True)
class CheckTarget:
    """A live instance with what its service says about checking it."""

    instance_id: str
    register_time: datetime
    kind: str
    address: str
    health: str
    check: HealthCheck
    last_check_time: datetime | None
    last_check_error: str
    # When the targets were read, on the leases' clock: what last_check_time is aged against.
    read_time: datetime
    # The service's name: with mesh TLS, what its certificate must be issued for.
    service: str = ""


def lease_not_found(instance_id: str) -> NotFound:
    return NotFound(
        "no live instance with this id; register again",
        reason=RegistryReason.LEASE_NOT_FOUND,
        metadata={"instance_id": instance_id},
    )


def address_problem(kind: str, address: str) -> str | None:
    """Why ``address`` cannot be an instance of a ``kind`` service, None if it can."""
    if kind == ServiceKind.INTERNAL_GRPC:
        match = _HOST_PORT.fullmatch(address)
        if match is None or not 0 < int(match.group(2)) < 65536:
            return "an INTERNAL_GRPC instance's address is host:port"
        return None
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return "an EXTERNAL_HTTP instance's address is an http(s) URL without query or fragment"
    if parts.username or parts.password:
        return "credentials do not belong in an instance's address"
    try:
        _ = parts.port
    except ValueError:
        return "the URL's port is not a port"
    return None


class Instances:
    def __init__(
        self, db: DatabaseRouter, work: UnitOfWork, *, default_lease_seconds: int, clock: LeaseClock = database_now
    ) -> None:
        self._db = db
        self._work = work
        self._default_lease = default_lease_seconds
        self.clock = clock

    async def register(
        self, service: str, *, version: str, address: str, metadata: Mapping[str, str], ttl_seconds: int
    ) -> InstanceRow:
        check_acts_for(service)
        async with self._db.core_session() as session:
            row = await repo.get_row(session, service)
            if row is None:
                raise service_not_found(service)
            kind = row.kind
            known = await session.execute(select(ServiceVersionRow.version).where(ServiceVersionRow.service == service))
            versions = set(known.scalars())
        violations = []
        if not version:
            violations.append(FieldViolation("instance.version", "value is required"))
        problem = address_problem(kind, address)
        if problem is not None:
            violations.append(FieldViolation("instance.address", problem))
        if violations:
            raise InvalidArgument("the instance is invalid", violations=violations)
        if version not in versions:
            raise NotFound(
                f"{service} has no version {version}; register the version first",
                reason=RegistryReason.SERVICE_VERSION_NOT_FOUND,
                metadata={"service": service, "version": version},
            )
        ttl = ttl_seconds or self._default_lease
        try:
            return await self._upsert(service, version, address, dict(metadata), ttl)
        except IntegrityError:
            # A concurrent registration of the same address won; take it over.
            return await self._upsert(service, version, address, dict(metadata), ttl)

    async def _upsert(
        self, service: str, version: str, address: str, metadata: dict[str, str], ttl: int
    ) -> InstanceRow:
        async with self._work.core() as work:
            session = work.session
            now = await self.clock(session)
            query = select(InstanceRow).where(InstanceRow.service == service, InstanceRow.address == address)
            row = (await session.execute(query.with_for_update())).scalar_one_or_none()
            change = UPDATED
            if row is None:
                change = ADDED
                row = InstanceRow(instance_id=uuid7(), service=service, address=address, last_check_error="")
                session.add(row)
            elif row.lease_until < now:
                change = ADDED  # the old one was gone already
            row.version = version
            row.metadata_json = json.dumps(metadata, sort_keys=True)
            row.ttl_seconds = ttl
            row.lease_until = now + timedelta(seconds=ttl)
            # A new registration is a new process: its health is found out again.
            row.health = HealthState.UNKNOWN
            row.last_check_time = None
            row.last_check_error = ""
            row.register_time = now
            await session.flush()
            work.emit(instance_changed(change, convert.instance_to_proto(row)))
        return row

    async def heartbeat(self, instance_id: str) -> InstanceRow:
        async with self._db.core_session() as session:
            now = await self.clock(session)
            row = await self._live(session, instance_id, now, for_update=True)
            if row is None:
                raise lease_not_found(instance_id)
            check_acts_for(row.service)
            row.lease_until = now + timedelta(seconds=row.ttl_seconds)
            await session.commit()
            return row

    async def deregister(self, instance_id: str) -> None:
        async with self._work.core() as work:
            row = await self._live(work.session, instance_id, await self.clock(work.session), for_update=True)
            if row is None:
                raise NotFound("no live instance with this id", reason=RegistryReason.INSTANCE_NOT_FOUND)
            check_acts_for(row.service)
            work.emit(instance_changed(REMOVED, convert.instance_to_proto(row)))
            await work.session.execute(delete(InstanceRow).where(InstanceRow.instance_id == instance_id))

    async def _live(
        self, session: AsyncSession, instance_id: str, now: datetime, *, for_update: bool = False
    ) -> InstanceRow | None:
        query = select(InstanceRow).where(InstanceRow.instance_id == instance_id, InstanceRow.lease_until >= now)
        if for_update:
            query = query.with_for_update()
        return (await session.execute(query)).scalar_one_or_none()

    async def list_instances(
        self,
        *,
        page_size: int,
        page_token: str,
        services: Sequence[str],
        version: str,
        health_states: Sequence[str],
    ) -> Page[InstanceRow]:
        wanted_services, wanted_states = sorted(set(services)), sorted(set(health_states))
        page, marker = page_request(page_size, page_token, wanted_services, version, wanted_states)
        query = select(InstanceRow).order_by(InstanceRow.instance_id).limit(page.limit)
        if page.after is not None:
            query = query.where(InstanceRow.instance_id > page.after)
        if wanted_services:
            query = query.where(InstanceRow.service.in_(wanted_services))
        if version:
            query = query.where(InstanceRow.version == version)
        if wanted_states:
            query = query.where(InstanceRow.health.in_(wanted_states))
        async with self._db.core_session() as session:
            query = query.where(InstanceRow.lease_until >= await self.clock(session))
            rows = list((await session.execute(query)).scalars())
        return page_of(rows, page, marker, lambda row: row.instance_id)

    async def resolve(self, service: str, version: str) -> list[InstanceRow]:
        """Healthy live instances of a known service, in registration order."""
        async with self._db.core_session() as session:
            if await repo.get_row(session, service) is None:
                raise service_not_found(service)
            query = select(InstanceRow).where(
                InstanceRow.service == service,
                InstanceRow.health == HealthState.HEALTHY,
                InstanceRow.lease_until >= await self.clock(session),
            )
            if version:
                query = query.where(InstanceRow.version == version)
            rows = (await session.execute(query.order_by(InstanceRow.instance_id))).scalars()
            return list(rows)

    async def live(self, services: Sequence[str] = ()) -> list[InstanceRow]:
        query = select(InstanceRow).order_by(InstanceRow.instance_id)
        if services:
            query = query.where(InstanceRow.service.in_(services))
        async with self._db.core_session() as session:
            query = query.where(InstanceRow.lease_until >= await self.clock(session))
            return list((await session.execute(query)).scalars())

    # -- for the health checker -------------------------------------------------------------------

    async def sweep(self) -> int:
        """Deletes instances whose lease ran out; returns how many."""
        async with self._work.core() as work:
            now = await self.clock(work.session)
            query = select(InstanceRow).where(InstanceRow.lease_until < now).with_for_update()
            expired = list((await work.session.execute(query)).scalars())
            for row in expired:
                work.emit(instance_changed(REMOVED, convert.instance_to_proto(row)))
            if expired:
                await work.session.execute(
                    delete(InstanceRow).where(InstanceRow.instance_id.in_([r.instance_id for r in expired]))
                )
        return len(expired)

    async def check_targets(self) -> list[CheckTarget]:
        async with self._db.core_session() as session:
            now = await self.clock(session)
            query = (
                select(InstanceRow, ServiceRow.kind, ServiceRow.health_check_json)
                .join(ServiceRow, ServiceRow.name == InstanceRow.service)
                .where(InstanceRow.lease_until >= now)
            )
            found = (await session.execute(query)).all()
        return [
            CheckTarget(
                instance_id=row.instance_id,
                register_time=row.register_time,
                kind=kind,
                address=row.address,
                health=row.health,
                check=HealthCheck(**json.loads(check_json)),
                last_check_time=row.last_check_time,
                last_check_error=row.last_check_error,
                service=row.service,
                read_time=now,
            )
            for row, kind, check_json in found
        ]

    async def record_check(self, target: CheckTarget, health: str, error: str) -> None:
        """Stores a check's outcome; a change of health is an instance.changed event."""
        async with self._work.core() as work:
            session = work.session
            now = await self.clock(session)
            result = await session.execute(
                update(InstanceRow)
                # Only the registration that was checked: a re-registration starts over.
                .where(
                    InstanceRow.instance_id == target.instance_id,
                    InstanceRow.register_time == target.register_time,
                )
                .values(health=health, last_check_time=now, last_check_error=error[:300])
            )
            if getattr(result, "rowcount", 0) == 1 and health != target.health:
                row = await self._live(session, target.instance_id, now)
                if row is not None:
                    work.emit(instance_changed(UPDATED, convert.instance_to_proto(row)))
