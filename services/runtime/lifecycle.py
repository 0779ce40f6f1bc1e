"""The tenant lifecycle interface every tenant-scoped service implements.

Provisioning and migrating are the same operation: bring this service's
schema in the tenant database to head. A service gives its migration set and,
optionally, hooks for work beyond the schema; the servicer does the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncConnection
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2 as pb
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2_grpc as pb_grpc

from services.runtime.db import DatabaseRouter, MigrationSet, TenantDatabase, TenantSchemaHook, upgrade_tenant
from services.runtime.errors import CommonReason, InvalidArgument
from services.runtime.outbox import TENANT_OUTBOX_MIGRATIONS
from services.runtime.tenant_db import placement_from_proto

TenantHook = Callable[[str, TenantDatabase], Awaitable[None]]
# (connection in the tenant database, tenant id, fresh): see services.runtime.db.TenantSchemaHook.
SchemaHook = Callable[[AsyncConnection, str, bool], Awaitable[None]]


def placement_of(
    request: pb.ProvisionTenantRequest | pb.DeprovisionTenantRequest, router: DatabaseRouter
) -> TenantDatabase:
    """The request's tenant database, if it is one of this platform's on a server this process
    knows (another name, or a server configured only elsewhere, is refused before any work)."""
    try:
        db = placement_from_proto(request.database)
        router.check_tenant_database(db)
    except ValueError as exc:
        raise InvalidArgument(str(exc), reason=CommonReason.DATABASE_PLACEMENT_INVALID) from None
    return db


class SchemaLifecycleServicer(pb_grpc.TenantLifecycleServiceServicer):
    def __init__(
        self,
        service: str,
        router: DatabaseRouter,
        migrations: MigrationSet,
        *,
        tenant_events: bool = False,
        on_schema: SchemaHook | None = None,
        after_provision: TenantHook | None = None,
        on_deprovision: TenantHook | None = None,
    ) -> None:
        """``tenant_events``: the service announces changes to tenant data (``UnitOfWork.tenant()``), so
        the tenant database needs its outbox, brought to head before the service's own schema.
        ``on_schema`` runs on the migration's own connection once the schema is at head (no
        extra connection or transaction); ``after_provision`` runs afterwards, on its own."""
        self._service, self._router, self._migrations = service, router, migrations
        self._tenant_events = tenant_events
        self._on_schema, self._after_provision, self._on_deprovision = on_schema, after_provision, on_deprovision
        # Provisioning whose caller went away, kept referenced until it is done.
        self._unattended: set[asyncio.Task[str]] = set()

    async def ProvisionTenant(
        self, request: pb.ProvisionTenantRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ProvisionTenantResponse:
        """Permission lifecycle.tenants.provision. Errors: INVALID_ARGUMENT (DATABASE_PLACEMENT_INVALID),
        FAILED_PRECONDITION (TENANT_DATABASE_CONFLICT, from hooks)."""
        placement = placement_of(request, self._router)
        # The caller going away (its process died, its deadline passed) cancels this handler;
        # the migration itself must not be cut half way: MariaDB commits each DDL statement on
        # its own, and a schema cut between two of them (the version table made, the revision
        # not applied) is one that no re-run could finish. It runs to its end in a task of its
        # own; the caller's retry, or the next migrate-all, finds it done (or waits for it on
        # the tenant's lock).
        work = asyncio.create_task(self.provision(request.tenant_id, placement))
        self._unattended.add(work)
        work.add_done_callback(self._unattended.discard)
        version = await asyncio.shield(work)
        return pb.ProvisionTenantResponse(service=self._service, schema_version=version)

    async def provision(self, tenant_id: str, db: TenantDatabase) -> str:
        """Brings the service's schema (and the outbox it needs) to head in ``db``, with the hooks;
        returns the schema version. Idempotent."""
        if self._tenant_events:
            await upgrade_tenant(self._router, db, TENANT_OUTBOX_MIGRATIONS)
        version = await upgrade_tenant(self._router, db, self._migrations, then=self._schema_hook(tenant_id))
        if self._after_provision is not None:
            await self._after_provision(tenant_id, db)
        return version

    def _schema_hook(self, tenant_id: str) -> TenantSchemaHook | None:
        on_schema = self._on_schema
        if on_schema is None:
            return None

        async def then(conn: AsyncConnection, fresh: bool) -> None:
            await on_schema(conn, tenant_id, fresh)

        return then

    async def DeprovisionTenant(
        self, request: pb.DeprovisionTenantRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DeprovisionTenantResponse:
        """Permission lifecycle.tenants.deprovision. Errors: INVALID_ARGUMENT (DATABASE_PLACEMENT_INVALID)."""
        db = placement_of(request, self._router)
        if self._on_deprovision is not None:
            await self._on_deprovision(request.tenant_id, db)
        return pb.DeprovisionTenantResponse(service=self._service)
