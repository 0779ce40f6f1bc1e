"""TenantService handlers: thin adapters between protobuf and the TenantManager.

Access policies, tenant context and input validation are enforced by the
runtime before a handler runs; handlers raise domain errors only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb
from tenantmesh.tenants.v1 import tenant_service_pb2_grpc as pb_grpc

from services.runtime.cache import MISS, Cache
from services.runtime.context import current_tenant
from services.runtime.proto_values import requested_time
from services.runtime.tenant_directory import CachedTenantDirectory
from services.tenants.convert import state_of, tenant_to_proto
from services.tenants.manager import TenantManager, TenantSpec
from services.tenants.migrate import TenantMigrator
from services.tenants.usage import TenantUsage

Context = grpc.aio.ServicerContext[Any, Any]


def spec_of(tenant: tenant_pb2.Tenant) -> TenantSpec:
    return TenantSpec(
        slug=tenant.slug,
        display_name=tenant.display_name,
        plan=tenant.plan,
        labels=dict(tenant.labels),
        settings=dict(tenant.settings),
    )


class TenantServicer(pb_grpc.TenantServiceServicer):
    def __init__(
        self,
        manager: TenantManager,
        migrator: TenantMigrator,
        views: Cache[str, tenant_pb2.Tenant],
        usage: TenantUsage,
        directory: CachedTenantDirectory | None = None,
    ) -> None:
        self._usage = usage
        self._manager = manager
        self._migrator = migrator
        self._views = views
        self._directory = directory

    @contextlib.contextmanager
    def _changing(self, tenant_id: str) -> Iterator[None]:
        """Drops what this process caches of the tenant after a change (also a failed one: it may
        have written). Its own tenant directory too: the event that drops it elsewhere reaches this
        process only through Redis, which may be down (a suspended tenant stayed active here for a
        cache lifetime during the fault suite's Redis outage)."""
        try:
            with self._views.dropping(tenant_id):
                yield
        finally:
            if self._directory is not None:
                self._directory.invalidate(tenant_id)

    async def CreateTenant(self, request: pb.CreateTenantRequest, context: Context) -> pb.CreateTenantResponse:
        """Permission tenants.tenants.create. Reasons: FIELD_INVALID, TENANT_SLUG_TAKEN, PROVISIONING_FAILED,
        TENANT_PROVISIONING."""
        record = await self._manager.create(spec_of(request.tenant), request.request_id)
        return pb.CreateTenantResponse(tenant=tenant_to_proto(record))

    async def GetTenant(self, request: pb.GetTenantRequest, context: Context) -> pb.GetTenantResponse:
        """Permission tenants.tenants.get. Reasons: TENANT_NOT_FOUND."""
        if request.WhichOneof("lookup") == "slug":
            return pb.GetTenantResponse(tenant=tenant_to_proto(await self._manager.get_by_slug(request.slug)))
        tenant = self._views.get(request.tenant_id)
        if tenant is MISS:
            # Not kept if the tenant changed while it was read (the change dropped the view).
            read_at = self._views.ticket()
            tenant = tenant_to_proto(await self._manager.get(request.tenant_id))
            self._views.put(request.tenant_id, tenant, read_at=read_at)
        return pb.GetTenantResponse(tenant=tenant)

    async def GetTenantUsage(self, request: pb.GetTenantUsageRequest, context: Context) -> pb.GetTenantUsageResponse:
        """Permission tenants.usage.get. Reasons: TENANT_NOT_FOUND, FIELD_INVALID."""
        hours = await self._usage.hours(
            request.tenant_id,
            requested_time(request, "start_time"),
            requested_time(request, "end_time"),
        )
        response = pb.GetTenantUsageResponse()
        for hour, requests, errors in hours:
            entry = response.hours.add(requests=requests, errors=errors)
            entry.start_time.FromDatetime(hour)
        return response

    async def ListTenants(self, request: pb.ListTenantsRequest, context: Context) -> pb.ListTenantsResponse:
        """Permission tenants.tenants.list. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        page = await self._manager.list(
            page_size=request.page_size,
            page_token=request.page_token,
            states=[state for state in map(state_of, request.states) if state is not None],
            labels=list(request.labels),
        )
        return pb.ListTenantsResponse(
            tenants=[tenant_to_proto(r) for r in page.items], next_page_token=page.next_page_token
        )

    async def UpdateTenant(self, request: pb.UpdateTenantRequest, context: Context) -> pb.UpdateTenantResponse:
        """Permission tenants.tenants.update. Reasons: TENANT_NOT_FOUND, ETAG_MISMATCH, TENANT_STATE_CONFLICT,
        FIELD_INVALID."""
        with self._changing(request.tenant.tenant_id):
            record = await self._manager.update(
                request.tenant.tenant_id, request.tenant.etag, list(request.update_mask.paths), spec_of(request.tenant)
            )
        return pb.UpdateTenantResponse(tenant=tenant_to_proto(record))

    async def SuspendTenant(self, request: pb.SuspendTenantRequest, context: Context) -> pb.SuspendTenantResponse:
        """Permission tenants.tenants.suspend. Reasons: TENANT_NOT_FOUND, ETAG_MISMATCH, TENANT_STATE_CONFLICT."""
        with self._changing(request.tenant_id):
            record = await self._manager.suspend(request.tenant_id, request.etag)
        return pb.SuspendTenantResponse(tenant=tenant_to_proto(record))

    async def ResumeTenant(self, request: pb.ResumeTenantRequest, context: Context) -> pb.ResumeTenantResponse:
        """Permission tenants.tenants.resume. Reasons: TENANT_NOT_FOUND, ETAG_MISMATCH, TENANT_STATE_CONFLICT."""
        with self._changing(request.tenant_id):
            record = await self._manager.resume(request.tenant_id, request.etag)
        return pb.ResumeTenantResponse(tenant=tenant_to_proto(record))

    async def DeleteTenant(self, request: pb.DeleteTenantRequest, context: Context) -> pb.DeleteTenantResponse:
        """Permission tenants.tenants.delete. Reasons: TENANT_NOT_FOUND, ETAG_MISMATCH, TENANT_STATE_CONFLICT."""
        with self._changing(request.tenant_id):
            record = await self._manager.delete(request.tenant_id, request.etag)
        return pb.DeleteTenantResponse(tenant=tenant_to_proto(record))

    async def GetCurrentTenant(
        self, request: pb.GetCurrentTenantRequest, context: Context
    ) -> pb.GetCurrentTenantResponse:
        """Permission tenants.current.get, tenant-scoped. Reasons: TENANT_NOT_FOUND, TENANT_SUSPENDED,
        TENANT_NOT_READY, TENANT_DATABASE_CONFLICT."""
        record, version = await self._manager.current(current_tenant())
        return pb.GetCurrentTenantResponse(tenant=tenant_to_proto(record), schema_version=version)

    async def MigrateTenantDatabases(
        self, request: pb.MigrateTenantDatabasesRequest, context: Context
    ) -> AsyncIterator[pb.MigrateTenantDatabasesResponse]:
        """Permission tenants.databases.migrate. Streams one message per tenant; failures are reported in
        the stream, not as an error status."""
        total, outcomes = await self._migrator.run(list(request.tenant_ids), request.concurrency)
        completed = 0
        async for outcome in outcomes:
            completed += 1
            yield pb.MigrateTenantDatabasesResponse(
                tenant_id=outcome.tenant_id,
                slug=outcome.slug,
                ok=outcome.ok,
                services=[
                    pb.ServiceMigration(service=s.service, schema_version=s.schema_version, error_reason=s.error_reason)
                    for s in outcome.services
                ],
                completed=completed,
                total=total,
            )
