"""Tenants' enabled services: the domain behind EnabledServiceService's handlers.

Every operation acts on the tenant it is given (the call's tenant, checked by
the runtime), so nothing of another tenant is reachable from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.registry import repository as repo
from services.registry import schemas
from services.registry.catalogue import Catalogue
from services.registry.events import (
    TENANT_SERVICE_DISABLED,
    TENANT_SERVICE_ENABLED,
    TENANT_SERVICE_UPDATED,
    tenant_service_changed,
)
from services.registry.models import EnabledServiceRow
from services.registry.reasons import RegistryReason
from services.registry.secrets import ConfigSecrets, Pointer, secret_pointers
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound
from services.runtime.events import Event
from services.runtime.paging import Page, page_of, page_request
from services.runtime.resources import bump_revision, check_etag
from services.runtime.unit_of_work import UnitOfWork


def _not_enabled(service: str) -> NotFound:
    return NotFound(f"{service!r} is not enabled for this tenant", reason=RegistryReason.SERVICE_NOT_ENABLED)


class Enablements:
    def __init__(self, db: DatabaseRouter, work: UnitOfWork, catalogue: Catalogue, secrets: ConfigSecrets) -> None:
        self._db = db
        self._work = work
        self._catalogue = catalogue
        self._secrets = secrets

    async def _validated(
        self, tenant_id: str, service: str, config: Mapping[str, Any], stored: EnabledServiceRow | None = None
    ) -> str:
        """The config as stored, after checking it against the service's current schema: secret
        fields (``writeOnly``) the new config leaves out keep their stored value, and every
        secret is sealed (services/registry/secrets.py)."""
        schema = (await self._catalogue.get(service, with_contracts=False)).definition.config_schema
        pointers = secret_pointers(schema)
        previous = schemas.loads(stored.config_json) if stored is not None else None
        merged = self._secrets.with_kept_secrets(dict(config), previous, pointers, tenant_id, service)
        if schema is not None:
            violations = schemas.instance_violations(schema, merged, "config", pointers)
            if violations:
                raise InvalidArgument(
                    "the configuration does not match the service's schema",
                    reason=schemas.CONFIG_INVALID,
                    violations=violations,
                )
        return schemas.dumps(self._secrets.sealed(merged, pointers, tenant_id, service))

    async def enable(
        self, tenant_id: str, service: str, config: Mapping[str, Any], request_id: str
    ) -> EnabledServiceRow:
        if request_id:
            replay = await self._replay(tenant_id, request_id)
            if replay is not None:
                return replay
        config_json = await self._validated(tenant_id, service, config)
        now = utcnow()
        row = EnabledServiceRow(
            tenant_id=tenant_id,
            service=service,
            config_json=config_json,
            revision=1,
            create_request_id=request_id or None,
            create_time=now,
            update_time=now,
        )
        try:
            async with self._work.core() as work:
                work.session.add(row)
                await work.session.flush()
                work.emit(tenant_service_changed(TENANT_SERVICE_ENABLED, tenant_id, service))
        except IntegrityError:
            if request_id and (replay := await self._replay(tenant_id, request_id)) is not None:
                return replay
            raise AlreadyExists(
                f"{service!r} is already enabled for this tenant",
                reason=RegistryReason.SERVICE_ALREADY_ENABLED,
                metadata={"service": service},
            ) from None
        return row

    async def _replay(self, tenant_id: str, request_id: str) -> EnabledServiceRow | None:
        async with self._db.core_session() as session:
            return await repo.get_enabled_by_request_id(session, tenant_id, request_id)

    async def disable(self, tenant_id: str, service: str, etag: str) -> None:
        async with self._work.core() as work:
            row = await repo.get_enabled(work.session, tenant_id, service, for_update=True)
            if row is None:
                raise _not_enabled(service)
            check_etag(row.revision, etag, "configuration")
            await work.session.delete(row)
            work.emit(tenant_service_changed(TENANT_SERVICE_DISABLED, tenant_id, service))

    async def get(self, tenant_id: str, service: str) -> EnabledServiceRow:
        async with self._db.core_session() as session:
            row = await repo.get_enabled(session, tenant_id, service)
        if row is None:
            raise _not_enabled(service)
        return row

    async def secrets_of(self, services: Iterable[str]) -> dict[str, list[Pointer]]:
        """The paths each service's schema marks secret now: what reads of its configurations hide
        (a value stored before its field was marked is plain, yet no less a secret)."""
        records = await self._catalogue.all(sorted(set(services)))
        return {record.definition.name: secret_pointers(record.definition.config_schema) for record in records}

    async def list_enabled(self, tenant_id: str, *, page_size: int, page_token: str) -> Page[EnabledServiceRow]:
        page, marker = page_request(page_size, page_token, "enabled-services", tenant_id)
        async with self._db.core_session() as session:
            rows = await repo.list_enabled(session, tenant_id, page.after, page.limit)
        return page_of(rows, page, marker, lambda row: row.service)

    async def update_config(
        self, tenant_id: str, service: str, config: Mapping[str, Any], etag: str
    ) -> EnabledServiceRow:
        current = await self.get(tenant_id, service)  # NOT_FOUND before INVALID_ARGUMENT
        config_json = await self._validated(tenant_id, service, config, current)
        async with self._work.core() as work:
            row = await repo.get_enabled(work.session, tenant_id, service, for_update=True)
            if row is None:
                raise _not_enabled(service)
            check_etag(row.revision, etag, "configuration")
            await bump_revision(work.session, row, "configuration", config_json=config_json)
            work.emit(tenant_service_changed(TENANT_SERVICE_UPDATED, tenant_id, service))
        return await self.get(tenant_id, service)

    async def on_tenant_event(self, event: Event) -> None:
        """A deleted tenant's enablements go with it."""
        if event.type != "tenant.deleted" or not event.tenant_id:
            return
        async with self._work.core() as work:
            for service in await repo.delete_tenant(work.session, event.tenant_id):
                work.emit(tenant_service_changed(TENANT_SERVICE_DISABLED, event.tenant_id, service))
