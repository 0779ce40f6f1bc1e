"""The service catalogue: the domain behind CatalogService's handlers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from tenantmesh.registry.v1 import service_pb2

from services.registry import contracts, convert, semver
from services.registry import repository as repo
from services.registry.definitions import (
    DESCRIPTOR_SET,
    UPDATABLE_FIELDS,
    ServiceDefinition,
    VersionSpec,
    definition_violations,
    raise_if_any,
    version_violations,
)
from services.registry.events import (
    REMOVED,
    SERVICE_DELETED,
    SERVICE_REGISTERED,
    SERVICE_UPDATED,
    TENANT_SERVICE_FORMS_CHANGED,
    instance_changed,
    service_changed,
    tenant_service_changed,
)
from services.registry.models import InstanceRow, ServiceRow, ServiceVersionRow
from services.registry.reasons import RegistryReason
from services.registry.repository import ServiceRecord
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    NotFound,
)
from services.runtime.paging import Page, page_of, page_request
from services.runtime.resources import bump_revision, check_etag, check_update_mask
from services.runtime.unit_of_work import UnitOfWork


def service_not_found(name: str) -> NotFound:
    return NotFound(f"no service {name!r}", reason=RegistryReason.SERVICE_NOT_FOUND, metadata={"service": name})


def _contract_breaking(breaks: Sequence[contracts.ContractBreak], version: str, previous: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"version {version} breaks the contract of {previous} ({len(breaks)} breaking changes); "
        "register it with force to accept that",
        reason=RegistryReason.CONTRACT_BREAKING,
        metadata={
            "version": version,
            "previous_version": previous,
            "break_count": str(len(breaks)),
            "breaks": contracts.describe(breaks),
        },
    )


def _summary(record: ServiceRecord) -> service_pb2.Service:
    """What events carry: the service without its versions' contracts."""
    return convert.service_to_proto(
        dataclasses.replace(record, versions=tuple(dataclasses.replace(v, contract=None) for v in record.versions))
    )


class Catalogue:
    def __init__(self, db: DatabaseRouter, work: UnitOfWork) -> None:
        self._db = db
        self._work = work

    # -- register ---------------------------------------------------------------------------------

    async def register(
        self, definition: ServiceDefinition, versions: Sequence[VersionSpec], request_id: str, *, force: bool
    ) -> ServiceRecord:
        violations = definition_violations(definition)
        for index, spec in enumerate(versions):
            violations += version_violations(definition.kind, spec, f"service.versions[{index}]")
        raise_if_any(violations, "the service definition is invalid")
        ordered = self._ordered_versions(versions)
        if request_id:
            replay = await self._replay(request_id)
            if replay is not None:
                return replay
        self._check_initial_contracts(ordered, force=force)
        now = utcnow()
        row = ServiceRow(
            name=definition.name,
            kind=definition.kind,
            revision=1,
            create_request_id=request_id or None,
            create_time=now,
            update_time=now,
            **repo.definition_columns(definition),
        )
        try:
            async with self._work.core() as work:
                session = work.session
                session.add(row)
                await session.flush()
                await repo.replace_tags(session, definition.name, definition.tags)
                session.add_all(
                    ServiceVersionRow(
                        service=definition.name,
                        version=spec.version,
                        contract_format=spec.contract_format,
                        contract=spec.contract,
                        create_time=now,
                    )
                    for spec in ordered
                )
                await session.flush()
                record = await self._record(session, definition.name, with_contracts=True)
                work.emit(service_changed(SERVICE_REGISTERED, _summary(record)))
        except IntegrityError:
            if request_id and (replay := await self._replay(request_id)) is not None:
                return replay
            raise AlreadyExists(
                f"a service named {definition.name!r} exists",
                reason=RegistryReason.SERVICE_NAME_TAKEN,
                metadata={"service": definition.name},
            ) from None
        return record

    @staticmethod
    def _ordered_versions(versions: Sequence[VersionSpec]) -> list[VersionSpec]:
        ordered = sorted(versions, key=lambda s: semver.sort_key(s.version))
        seen: dict[semver.Version, str] = {}
        violations = []
        for index, spec in enumerate(versions):
            key = semver.sort_key(spec.version)
            if key in seen:
                violations.append(
                    FieldViolation(
                        f"service.versions[{index}].version",
                        f"same precedence as {seen[key]}",
                        RegistryReason.DUPLICATE,
                    )
                )
            seen.setdefault(key, spec.version)
        raise_if_any(violations, "the service definition is invalid")
        return ordered

    @staticmethod
    def _check_initial_contracts(ordered: Sequence[VersionSpec], *, force: bool) -> None:
        previous: VersionSpec | None = None
        for spec in ordered:
            if spec.contract_format != DESCRIPTOR_SET:
                continue
            if previous is not None and not force:
                breaks = contracts.breaking_changes(
                    contracts.parse_descriptor_set(previous.contract), contracts.parse_descriptor_set(spec.contract)
                )
                if breaks:
                    raise _contract_breaking(breaks, spec.version, previous.version)
            previous = spec

    async def _replay(self, request_id: str) -> ServiceRecord | None:
        async with self._db.core_session() as session:
            row = await repo.get_row_by_request_id(session, request_id)
            if row is None:
                return None
            return (await repo.load_records(session, [row], with_contracts=True))[0]

    # -- read -------------------------------------------------------------------------------------

    async def _record(self, session: AsyncSession, name: str, *, with_contracts: bool) -> ServiceRecord:
        row = await repo.get_row(session, name)
        if row is None:
            raise service_not_found(name)
        return (await repo.load_records(session, [row], with_contracts=with_contracts))[0]

    async def get(self, name: str, *, with_contracts: bool = True) -> ServiceRecord:
        async with self._db.core_session() as session:
            return await self._record(session, name, with_contracts=with_contracts)

    async def all(self, names: Sequence[str] = ()) -> list[ServiceRecord]:
        """Every service (or the named ones), without contracts, in name order."""
        query = select(ServiceRow).order_by(ServiceRow.name)
        if names:
            query = query.where(ServiceRow.name.in_(names))
        async with self._db.core_session() as session:
            rows = list((await session.execute(query)).scalars())
            return await repo.load_records(session, rows, with_contracts=False)

    async def list_services(
        self, *, page_size: int, page_token: str, kind: str, tags: Sequence[str], with_contracts: bool
    ) -> Page[ServiceRecord]:
        wanted_tags = sorted(set(tags))
        page, marker = page_request(page_size, page_token, kind, wanted_tags)
        async with self._db.core_session() as session:
            rows = await repo.list_rows(session, kind=kind, tags=wanted_tags, after=page.after, limit=page.limit)
            shown = page_of(rows, page, marker, lambda row: row.name)
            records = await repo.load_records(session, shown.items, with_contracts=with_contracts)
        return Page(records, shown.next_page_token)

    # -- change -----------------------------------------------------------------------------------

    async def update(self, name: str, etag: str, mask: Sequence[str], patch: ServiceDefinition) -> ServiceRecord:
        check_update_mask(mask, UPDATABLE_FIELDS)
        async with self._work.core() as work:
            session = work.session
            row = await repo.get_row(session, name, for_update=True)
            if row is None:
                raise service_not_found(name)
            check_etag(row.revision, etag, "service")
            current = (await repo.load_records(session, [row], with_contracts=False))[0].definition
            merged = dataclasses.replace(current, **{path: getattr(patch, path) for path in mask})
            if not merged.display_name:
                merged = dataclasses.replace(merged, display_name=merged.name)
            raise_if_any(definition_violations(merged), "the service definition is invalid")
            await bump_revision(session, row, "service", **repo.definition_columns(merged))
            if "tags" in mask:
                await repo.replace_tags(session, name, merged.tags)
            await session.flush()
            session.expire_all()
            record = await self._record(session, name, with_contracts=False)
            work.emit(service_changed(SERVICE_UPDATED, _summary(record)))
            if merged.forms != current.forms:
                for tenant_id in await repo.enabling_tenants(session, name):
                    work.emit(tenant_service_changed(TENANT_SERVICE_FORMS_CHANGED, tenant_id, name))
        return await self.get(name)

    async def delete(self, name: str, etag: str) -> None:
        async with self._work.core() as work:
            session = work.session
            row = await repo.get_row(session, name, for_update=True)
            if row is None:
                raise service_not_found(name)
            check_etag(row.revision, etag, "service")
            in_use = await repo.enabled_count(session, name)
            if in_use:
                raise FailedPrecondition(
                    f"{in_use} tenants have the service enabled; they must disable it first",
                    reason=RegistryReason.SERVICE_IN_USE,
                    metadata={"service": name, "tenants": str(in_use)},
                )
            instances = list((await session.execute(select(InstanceRow).where(InstanceRow.service == name))).scalars())
            for instance in instances:
                work.emit(instance_changed(REMOVED, convert.instance_to_proto(instance)))
            # Core statements: the database cascades versions and tags, which the ORM does not know about.
            await session.execute(delete(InstanceRow).where(InstanceRow.service == name))
            await session.execute(delete(ServiceRow).where(ServiceRow.name == name))
            work.emit(service_changed(SERVICE_DELETED, service_pb2.Service(name=name)))

    async def register_version(
        self, name: str, spec: VersionSpec, *, force: bool
    ) -> tuple[ServiceRecord, list[contracts.ContractBreak]]:
        """Adds a version; returns the service and the breaks ``force`` let through."""
        async with self._work.core() as work:
            session = work.session
            row = await repo.get_row(session, name, for_update=True)
            if row is None:
                raise service_not_found(name)
            raise_if_any(version_violations(row.kind, spec, "version"), "the version is invalid")
            existing = await repo.version_rows(session, name)
            new_key = semver.sort_key(spec.version)
            for version in existing:
                if semver.sort_key(version.version) != new_key:
                    continue
                if (version.version, version.contract_format, version.contract) == (
                    spec.version,
                    spec.contract_format,
                    spec.contract,
                ):
                    return await self._record(session, name, with_contracts=True), []
                raise AlreadyExists(
                    f"version {version.version} is registered with another contract; versions are immutable",
                    reason=RegistryReason.SERVICE_VERSION_EXISTS,
                    metadata={"service": name, "version": version.version},
                )
            breaks = self._breaks_against_preceding(existing, spec)
            if breaks and not force:
                preceding = self._preceding(existing, spec)
                raise _contract_breaking(breaks, spec.version, preceding.version if preceding else "")
            now = utcnow()
            session.add(
                ServiceVersionRow(
                    service=name,
                    version=spec.version,
                    contract_format=spec.contract_format,
                    contract=spec.contract,
                    create_time=now,
                )
            )
            await bump_revision(session, row, "service", update_time=now)
            await session.flush()
            session.expire_all()
            record = await self._record(session, name, with_contracts=True)
            work.emit(service_changed(SERVICE_UPDATED, _summary(record)))
        return record, breaks

    @staticmethod
    def _preceding(existing: Sequence[ServiceVersionRow], spec: VersionSpec) -> ServiceVersionRow | None:
        """The closest lower version carrying a descriptor set."""
        new_key = semver.sort_key(spec.version)
        lower = [v for v in existing if v.contract_format == DESCRIPTOR_SET and semver.sort_key(v.version) < new_key]
        return lower[-1] if lower else None

    def _breaks_against_preceding(
        self, existing: Sequence[ServiceVersionRow], spec: VersionSpec
    ) -> list[contracts.ContractBreak]:
        if spec.contract_format != DESCRIPTOR_SET:
            return []
        preceding = self._preceding(existing, spec)
        if preceding is None:
            return []
        return contracts.breaking_changes(
            contracts.parse_descriptor_set(preceding.contract), contracts.parse_descriptor_set(spec.contract)
        )
