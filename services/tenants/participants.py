"""The tenant-scoped services a tenant is provisioned in, reached over gRPC."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2 as pb
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2_grpc as pb_grpc

from services.runtime.credentials import ServiceCredentials
from services.runtime.db import TenantDatabase
from services.runtime.tenant_db import placement_to_proto


class LifecycleParticipants:
    def __init__(
        self,
        services: Sequence[str],
        channel_for: Callable[[str], grpc.aio.Channel],
        credentials: ServiceCredentials,
        timeout_seconds: float = 60.0,
    ) -> None:
        self.names = tuple(services)
        self._channel_for = channel_for
        # Lifecycle work is the platform's own, whoever asked for it: the
        # service's credentials, not the caller's, and the same for the reconciler.
        self._credentials = credentials
        self._timeout = timeout_seconds
        self._stubs: dict[str, tuple[grpc.aio.Channel, Any]] = {}

    def _stub(self, service: str) -> Any:
        # Typed as Any: the generated stub types describe sync channels, not aio awaitables.
        channel = self._channel_for(service)
        cached = self._stubs.get(service)
        if cached is None or cached[0] is not channel:
            cached = self._stubs[service] = (channel, pb_grpc.TenantLifecycleServiceStub(channel))
        return cached[1]

    async def provision(self, service: str, tenant_id: str, db: TenantDatabase) -> str:
        """Brings ``service``'s schema in the tenant database to head; returns its revision."""
        response = await self._stub(service).ProvisionTenant(
            pb.ProvisionTenantRequest(tenant_id=tenant_id, database=placement_to_proto(db)),
            timeout=self._timeout,
            wait_for_ready=True,
            metadata=await self._credentials.metadata(),
        )
        return str(response.schema_version)

    async def deprovision(self, service: str, tenant_id: str, db: TenantDatabase) -> None:
        await self._stub(service).DeprovisionTenant(
            pb.DeprovisionTenantRequest(tenant_id=tenant_id, database=placement_to_proto(db)),
            timeout=self._timeout,
            wait_for_ready=True,
            metadata=await self._credentials.metadata(),
        )
