"""The tenant lifecycle interface every tenant-scoped service implements.

Provisioning and migrating are the same operation: bring this service's
schema in the tenant database to head. A service gives its migration set and,
optionally, hooks for work beyond the schema; the servicer does the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2 as pb
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2_grpc as pb_grpc

from services.runtime.db import DatabaseRouter, MigrationSet, TenantDatabase, upgrade_tenant
from services.runtime.errors import InvalidArgument
from services.runtime.server import ServiceBinding

LIFECYCLE_SERVICE = pb.DESCRIPTOR.services_by_name["TenantLifecycleService"].full_name

TenantHook = Callable[[str, TenantDatabase], Awaitable[None]]


def placement_of(request: pb.ProvisionTenantRequest | pb.DeprovisionTenantRequest) -> TenantDatabase:
    try:
        return TenantDatabase(server=request.database.server, name=request.database.database)
    except ValueError as exc:
        raise InvalidArgument(str(exc), reason="DATABASE_PLACEMENT_INVALID") from None


class SchemaLifecycleServicer(pb_grpc.TenantLifecycleServiceServicer):
    def __init__(
        self,
        service: str,
        router: DatabaseRouter,
        migrations: MigrationSet,
        *,
        after_provision: TenantHook | None = None,
        on_deprovision: TenantHook | None = None,
    ) -> None:
        self._service = service
        self._router = router
        self._migrations = migrations
        self._after_provision = after_provision
        self._on_deprovision = on_deprovision

    async def ProvisionTenant(
        self, request: pb.ProvisionTenantRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ProvisionTenantResponse:
        """Permission lifecycle.tenants.provision. Errors: INVALID_ARGUMENT (DATABASE_PLACEMENT_INVALID),
        FAILED_PRECONDITION (TENANT_DATABASE_CONFLICT, from hooks)."""
        db = placement_of(request)
        version = await upgrade_tenant(self._router, db, self._migrations)
        if self._after_provision is not None:
            await self._after_provision(request.tenant_id, db)
        return pb.ProvisionTenantResponse(service=self._service, schema_version=version)

    async def DeprovisionTenant(
        self, request: pb.DeprovisionTenantRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DeprovisionTenantResponse:
        """Permission lifecycle.tenants.deprovision. Errors: INVALID_ARGUMENT (DATABASE_PLACEMENT_INVALID)."""
        db = placement_of(request)
        if self._on_deprovision is not None:
            await self._on_deprovision(request.tenant_id, db)
        return pb.DeprovisionTenantResponse(service=self._service)


def lifecycle_binding(servicer: SchemaLifecycleServicer) -> ServiceBinding:
    return ServiceBinding(
        service_name=LIFECYCLE_SERVICE,
        register=lambda server: pb_grpc.add_TenantLifecycleServiceServicer_to_server(servicer, server),
    )
