"""Wiring of the registry service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tenantmesh.registry.v1 import registry_service_pb2, registry_service_pb2_grpc

from services.registry.catalogue import Catalogue
from services.registry.enablement import Enablements
from services.registry.events import INSTANCE_CHANGED
from services.registry.health import HealthChecker, Probe
from services.registry.instances import Clock, Instances
from services.registry.servicers import CatalogServicer, DiscoveryServicer, EnabledServiceServicer, InstanceServicer
from services.registry.settings import RegistrySettings, load_registry_settings
from services.registry.watch import WatchHub
from services.runtime.app import Runtime
from services.runtime.clock import utcnow
from services.runtime.db import MigrationSet, upgrade_core
from services.runtime.server import ServiceBinding
from services.runtime.tenant_directory import TenantDirectory

SERVICE = "registry"
CORE_MIGRATIONS = MigrationSet(service=SERVICE, scope="core", directory=Path(__file__).parent / "migrations" / "core")

_SERVICES = registry_service_pb2.DESCRIPTOR.services_by_name
CATALOG_SERVICE = _SERVICES["CatalogService"].full_name
INSTANCE_SERVICE = _SERVICES["InstanceService"].full_name
DISCOVERY_SERVICE = _SERVICES["DiscoveryService"].full_name
ENABLED_SERVICE_SERVICE = _SERVICES["EnabledServiceService"].full_name


class RegistryApp:
    name = SERVICE

    def __init__(
        self,
        runtime: Runtime,
        settings: RegistrySettings | None = None,
        *,
        clock: Clock = utcnow,
        probe: Probe | None = None,
    ) -> None:
        self._runtime = runtime
        self.settings = settings or load_registry_settings(runtime.settings.environment)
        work = runtime.unit_of_work(SERVICE)
        self.catalogue = Catalogue(runtime.db, work)
        self.instances = Instances(
            runtime.db, work, default_lease_seconds=self.settings.default_lease_seconds, clock=clock
        )
        self.enablements = Enablements(runtime.db, work, self.catalogue)
        self.checker = HealthChecker(runtime.db, self.instances, self.settings, probe)
        self.hub = WatchHub(self.settings.watch_queue_size)
        # Every replica's watchers see every replica's changes: the hub listens to the bus.
        runtime.events.subscribe("service.", self.hub.on_event)
        runtime.events.subscribe(INSTANCE_CHANGED, self.hub.on_event)
        # One replica drops a deleted tenant's enablements (at least once, idempotent).
        runtime.events.subscribe_group("registry-tenants", "tenant.", self.enablements.on_tenant_event)
        self._directory = runtime.remote_tenant_directory()

    def bindings(self) -> Sequence[ServiceBinding]:
        catalog = CatalogServicer(self.catalogue)
        instances = InstanceServicer(self.instances, self.checker.wake)
        discovery = DiscoveryServicer(
            self.catalogue, self.instances, self.hub, self.settings.watch_keepalive_seconds, self._runtime.events
        )
        enabled = EnabledServiceServicer(self.enablements, self.catalogue)
        return [
            ServiceBinding(
                CATALOG_SERVICE,
                lambda server: registry_service_pb2_grpc.add_CatalogServiceServicer_to_server(catalog, server),
            ),
            ServiceBinding(
                INSTANCE_SERVICE,
                lambda server: registry_service_pb2_grpc.add_InstanceServiceServicer_to_server(instances, server),
            ),
            ServiceBinding(
                DISCOVERY_SERVICE,
                lambda server: registry_service_pb2_grpc.add_DiscoveryServiceServicer_to_server(discovery, server),
            ),
            ServiceBinding(
                ENABLED_SERVICE_SERVICE,
                lambda server: registry_service_pb2_grpc.add_EnabledServiceServiceServicer_to_server(enabled, server),
            ),
        ]

    def tenant_directory(self) -> TenantDirectory:
        return self._directory

    async def start(self) -> None:
        await upgrade_core(self._runtime.db, CORE_MIGRATIONS)
        self.checker.start()

    async def stop(self) -> None:
        await self.checker.stop()
