"""Registry handlers: thin adapters between protobuf and the domain.

The runtime has enforced each RPC's access policy, the tenant (for
EnabledServiceService) and the protovalidate rules before a handler runs;
handlers raise domain errors only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from tenantmesh.registry.v1 import enabled_service_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as pb_grpc

from services.registry import convert
from services.registry.catalogue import Catalogue
from services.registry.enablement import Enablements
from services.registry.instances import Instances
from services.registry.models import EnabledServiceRow
from services.registry.reasons import RegistryReason
from services.registry.watch import WatchHub, change_of_instance, change_of_service
from services.runtime.cache import MISS, Cache
from services.runtime.context import current_tenant
from services.runtime.errors import Aborted
from services.runtime.events import EventBus
from services.runtime.json_documents import struct_to_dict

Context = grpc.aio.ServicerContext[Any, Any]


def _full(view: int, default: int) -> bool:
    return (view or default) == pb.SERVICE_VIEW_FULL


class CatalogServicer(pb_grpc.CatalogServiceServicer):
    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    async def RegisterService(self, request: pb.RegisterServiceRequest, context: Context) -> pb.RegisterServiceResponse:
        """Permission registry.services.create. Reasons: FIELD_INVALID, SCHEMA_INVALID, CONTRACT_INVALID,
        SERVICE_NAME_TAKEN, CONTRACT_BREAKING."""
        record = await self._catalogue.register(
            convert.definition_of(request.service),
            [convert.version_spec_of(v) for v in request.service.versions],
            request.request_id,
            force=request.force,
        )
        return pb.RegisterServiceResponse(service=convert.service_to_proto(record))

    async def GetService(self, request: pb.GetServiceRequest, context: Context) -> pb.GetServiceResponse:
        """Permission registry.services.get. Reasons: SERVICE_NOT_FOUND."""
        record = await self._catalogue.get(request.name, with_contracts=_full(request.view, pb.SERVICE_VIEW_FULL))
        return pb.GetServiceResponse(service=convert.service_to_proto(record))

    async def ListServices(self, request: pb.ListServicesRequest, context: Context) -> pb.ListServicesResponse:
        """Permission registry.services.list. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        services, next_page_token = await _service_page(
            self._catalogue, request, with_contracts=_full(request.view, pb.SERVICE_VIEW_BASIC)
        )
        return pb.ListServicesResponse(services=services, next_page_token=next_page_token)

    async def UpdateService(self, request: pb.UpdateServiceRequest, context: Context) -> pb.UpdateServiceResponse:
        """Permission registry.services.update. Reasons: SERVICE_NOT_FOUND, ETAG_MISMATCH, FIELD_INVALID,
        SCHEMA_INVALID."""
        record = await self._catalogue.update(
            request.service.name,
            request.service.etag,
            list(request.update_mask.paths),
            convert.definition_of(request.service),
        )
        return pb.UpdateServiceResponse(service=convert.service_to_proto(record))

    async def DeleteService(self, request: pb.DeleteServiceRequest, context: Context) -> pb.DeleteServiceResponse:
        """Permission registry.services.delete. Reasons: SERVICE_NOT_FOUND, ETAG_MISMATCH, SERVICE_IN_USE."""
        await self._catalogue.delete(request.name, request.etag)
        return pb.DeleteServiceResponse()

    async def RegisterServiceVersion(
        self, request: pb.RegisterServiceVersionRequest, context: Context
    ) -> pb.RegisterServiceVersionResponse:
        """Permission registry.versions.create. Reasons: SERVICE_NOT_FOUND, SERVICE_VERSION_EXISTS,
        CONTRACT_BREAKING, CONTRACT_INVALID, FIELD_INVALID."""
        record, breaks = await self._catalogue.register_version(
            request.service, convert.version_spec_of(request.version), force=request.force
        )
        return pb.RegisterServiceVersionResponse(
            service=convert.service_to_proto(record),
            forced_breaks=[pb.ContractBreak(kind=b.kind, subject=b.subject, description=b.description) for b in breaks],
        )


class InstanceServicer(pb_grpc.InstanceServiceServicer):
    def __init__(self, instances: Instances, on_registered: Callable[[], None]) -> None:
        # Tells the health checker a new instance is due for its first check.
        self._instances = instances
        self._on_registered = on_registered

    async def RegisterInstance(
        self, request: pb.RegisterInstanceRequest, context: Context
    ) -> pb.RegisterInstanceResponse:
        """Permission registry.instances.create; a service's mesh identity only for itself. Reasons:
        SERVICE_NOT_FOUND, SERVICE_VERSION_NOT_FOUND, FIELD_INVALID, CALLER_NOT_ALLOWED."""
        row = await self._instances.register(
            request.service,
            version=request.instance.version,
            address=request.instance.address,
            metadata=dict(request.instance.metadata),
            ttl_seconds=request.ttl_seconds,
        )
        self._on_registered()
        return pb.RegisterInstanceResponse(instance=convert.instance_to_proto(row))

    async def Heartbeat(self, request: pb.HeartbeatRequest, context: Context) -> pb.HeartbeatResponse:
        """Permission registry.instances.heartbeat; a service's mesh identity only for its own instances.
        Reasons: LEASE_NOT_FOUND (register again), CALLER_NOT_ALLOWED."""
        row = await self._instances.heartbeat(request.instance_id)
        return pb.HeartbeatResponse(instance=convert.instance_to_proto(row))

    async def DeregisterInstance(
        self, request: pb.DeregisterInstanceRequest, context: Context
    ) -> pb.DeregisterInstanceResponse:
        """Permission registry.instances.delete; a service's mesh identity only for its own instances.
        Reasons: INSTANCE_NOT_FOUND, CALLER_NOT_ALLOWED."""
        await self._instances.deregister(request.instance_id)
        return pb.DeregisterInstanceResponse()

    async def ListInstances(self, request: pb.ListInstancesRequest, context: Context) -> pb.ListInstancesResponse:
        """Permission registry.instances.list. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        page = await self._instances.list_instances(
            page_size=request.page_size,
            page_token=request.page_token,
            services=list(request.services),
            version=request.version,
            health_states=[convert.health_name(s) for s in request.health_states],
        )
        return pb.ListInstancesResponse(
            instances=[convert.instance_to_proto(r) for r in page.items], next_page_token=page.next_page_token
        )


# Resolve answers are reused this long; any catalogue or instance event clears
# them sooner. Resolve is the hot path of every client, changes are rare.
RESOLVE_CACHE_SECONDS = 1.0
# Distinct (service, version) pairs kept; callers name them, so the cache is bounded.
RESOLVE_CACHE_ENTRIES = 10_000


class DiscoveryServicer(pb_grpc.DiscoveryServiceServicer):
    def __init__(
        self,
        catalogue: Catalogue,
        instances: Instances,
        hub: WatchHub,
        keepalive_seconds: float,
        events: EventBus | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._instances = instances
        self._hub = hub
        self._keepalive = keepalive_seconds
        self._resolved: Cache[tuple[str, str], pb.ResolveServiceResponse] = Cache(
            "registry-resolve", ttl_seconds=RESOLVE_CACHE_SECONDS, max_entries=RESOLVE_CACHE_ENTRIES
        )
        if events is not None:
            self._resolved.drop_on(events, "instance.")
            self._resolved.drop_on(events, "service.")

    async def ResolveService(self, request: pb.ResolveServiceRequest, context: Context) -> pb.ResolveServiceResponse:
        """Permission registry.instances.resolve. Reasons: SERVICE_NOT_FOUND."""
        key = (request.service, request.version)
        cached = self._resolved.get(key)
        if cached is not MISS:
            return cached
        rows = await self._instances.resolve(request.service, request.version)
        response = pb.ResolveServiceResponse(instances=[convert.instance_to_proto(r) for r in rows])
        self._resolved.put(key, response)
        return response

    async def Watch(self, request: pb.WatchRequest, context: Context) -> AsyncIterator[pb.WatchResponse]:
        """Permission registry.services.watch. Streams until the client leaves; ends with WATCH_OVERFLOW
        (ABORTED) when the client falls too far behind."""
        services = list(request.services)
        # Subscribed before the initial state is read, so no change falls between the two.
        watcher = self._hub.subscribe(services)
        try:
            if request.send_initial_state:
                for record in await self._catalogue.all(services):
                    yield change_of_service(pb.WATCH_EVENT_TYPE_ADDED, convert.service_to_proto(record))
                for row in await self._instances.live(services):
                    yield change_of_instance(pb.WATCH_EVENT_TYPE_ADDED, convert.instance_to_proto(row))
                yield pb.WatchResponse(type=pb.WATCH_EVENT_TYPE_SYNCED)
            while True:
                try:
                    change = await asyncio.wait_for(watcher.queue.get(), self._keepalive)
                except TimeoutError:
                    yield pb.WatchResponse(type=pb.WATCH_EVENT_TYPE_KEEPALIVE)
                    continue
                if change is None:
                    raise Aborted("the watcher fell too far behind; watch again", reason=RegistryReason.WATCH_OVERFLOW)
                yield change
        finally:
            self._hub.unsubscribe(watcher)


def _tenant_id() -> str:
    return current_tenant().tenant_id


class EnabledServiceServicer(pb_grpc.EnabledServiceServiceServicer):
    def __init__(self, enablements: Enablements, catalogue: Catalogue) -> None:
        self._enablements = enablements
        self._catalogue = catalogue

    async def ListAvailableServices(
        self, request: pb.ListAvailableServicesRequest, context: Context
    ) -> pb.ListAvailableServicesResponse:
        """Permission registry.available_services.list, tenant-scoped. Reasons: FIELD_INVALID,
        PAGE_TOKEN_INVALID."""
        # The catalogue is the same for every tenant; the tenant scope decides who may read it.
        services, next_page_token = await _service_page(self._catalogue, request, with_contracts=False)
        return pb.ListAvailableServicesResponse(services=services, next_page_token=next_page_token)

    async def EnableService(self, request: pb.EnableServiceRequest, context: Context) -> pb.EnableServiceResponse:
        """Permission registry.enabled_services.create, tenant-scoped. Reasons: SERVICE_NOT_FOUND,
        SERVICE_ALREADY_ENABLED, CONFIG_INVALID."""
        row = await self._enablements.enable(
            _tenant_id(), request.service, struct_to_dict(request.config, "config"), request.request_id
        )
        return pb.EnableServiceResponse(enabled_service=await self._view(row))

    async def DisableService(self, request: pb.DisableServiceRequest, context: Context) -> pb.DisableServiceResponse:
        """Permission registry.enabled_services.delete, tenant-scoped. Reasons: SERVICE_NOT_ENABLED,
        ETAG_MISMATCH."""
        await self._enablements.disable(_tenant_id(), request.service, request.etag)
        return pb.DisableServiceResponse()

    async def GetEnabledService(
        self, request: pb.GetEnabledServiceRequest, context: Context
    ) -> pb.GetEnabledServiceResponse:
        """Permission registry.enabled_services.get, tenant-scoped. Reasons: SERVICE_NOT_ENABLED."""
        row = await self._enablements.get(_tenant_id(), request.service)
        return pb.GetEnabledServiceResponse(enabled_service=await self._view(row))

    async def ListEnabledServices(
        self, request: pb.ListEnabledServicesRequest, context: Context
    ) -> pb.ListEnabledServicesResponse:
        """Permission registry.enabled_services.list, tenant-scoped. Reasons: FIELD_INVALID,
        PAGE_TOKEN_INVALID."""
        page = await self._enablements.list_enabled(
            _tenant_id(), page_size=request.page_size, page_token=request.page_token
        )
        secrets = await self._enablements.secrets_of(row.service for row in page.items)
        return pb.ListEnabledServicesResponse(
            enabled_services=[convert.enabled_service_to_proto(r, secrets.get(r.service, [])) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def UpdateServiceConfig(
        self, request: pb.UpdateServiceConfigRequest, context: Context
    ) -> pb.UpdateServiceConfigResponse:
        """Permission registry.enabled_services.update, tenant-scoped. Reasons: SERVICE_NOT_ENABLED,
        ETAG_MISMATCH, CONFIG_INVALID."""
        row = await self._enablements.update_config(
            _tenant_id(), request.service, struct_to_dict(request.config, "config"), request.etag
        )
        return pb.UpdateServiceConfigResponse(enabled_service=await self._view(row))

    async def _view(self, row: EnabledServiceRow) -> enabled_service_pb2.EnabledService:
        """The enablement as its tenant sees it, secrets hidden by the service's current schema."""
        secrets = await self._enablements.secrets_of([row.service])
        return convert.enabled_service_to_proto(row, secrets.get(row.service, []))


async def _service_page(
    catalogue: Catalogue,
    request: pb.ListServicesRequest | pb.ListAvailableServicesRequest,
    *,
    with_contracts: bool,
) -> tuple[list[service_pb2.Service], str]:
    """One page of the catalogue as protos, filtered and paged as the request says."""
    page = await catalogue.list_services(
        page_size=request.page_size,
        page_token=request.page_token,
        kind=convert.kind_name(request.kind),
        tags=list(request.tags),
        with_contracts=with_contracts,
    )
    return [convert.service_to_proto(r) for r in page.items], page.next_page_token
