"""Wiring of the registry service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.registry.catalogue import Catalogue
from services.registry.enablement import Enablements
from services.registry.events import INSTANCE_CHANGED
from services.registry.health import HealthChecker, Probe
from services.registry.instances import Instances
from services.registry.metrics import instance_health_probe
from services.registry.secrets import ConfigSecrets
from services.registry.servicers import CatalogServicer, DiscoveryServicer, EnabledServiceServicer, InstanceServicer
from services.registry.settings import RegistrySettings, load_registry_settings
from services.registry.watch import WatchHub
from services.runtime.app import Runtime
from services.runtime.db import LeaseClock, MigrationSet, database_now
from services.runtime.service import ServiceApp

SERVICE = "registry"
CORE_MIGRATIONS = MigrationSet(service=SERVICE, scope="core", directory=Path(__file__).parent / "migrations" / "core")


class RegistryApp(ServiceApp):
    name = SERVICE
    core_migrations = CORE_MIGRATIONS

    def __init__(
        self,
        runtime: Runtime,
        settings: RegistrySettings | None = None,
        *,
        clock: LeaseClock = database_now,
        probe: Probe | None = None,
    ) -> None:
        super().__init__(runtime)
        self.settings = settings or load_registry_settings(runtime.settings.environment)
        work = runtime.unit_of_work(SERVICE)
        self.catalogue = Catalogue(runtime.db, work)
        self.instances = Instances(
            runtime.db, work, default_lease_seconds=self.settings.default_lease_seconds, clock=clock
        )
        self.enablements = Enablements(runtime.db, work, self.catalogue, ConfigSecrets(runtime.sealer))
        self.checker = HealthChecker(
            runtime.db, self.instances, self.settings, probe, mesh_tls=runtime.settings.mesh_tls, identity=SERVICE
        )
        self.hub = WatchHub(self.settings.watch_queue_size)
        # Every replica's watchers see every replica's changes: the hub listens to the bus.
        runtime.events.subscribe("service.", self.hub.on_event)
        runtime.events.subscribe(INSTANCE_CHANGED, self.hub.on_event)
        # One replica drops a deleted tenant's enablements (at least once, idempotent).
        runtime.events.subscribe_group("registry-tenants", "tenant.", self.enablements.on_tenant_event)
        runtime.metrics_sampler.add("registry_instances", instance_health_probe(runtime.db, runtime.metrics, clock))

    def servicers(self) -> Sequence[object]:
        return [
            CatalogServicer(self.catalogue),
            InstanceServicer(self.instances, self.checker.wake),
            DiscoveryServicer(
                self.catalogue, self.instances, self.hub, self.settings.watch_keepalive_seconds, self.runtime.events
            ),
            EnabledServiceServicer(self.enablements, self.catalogue),
        ]

    async def start(self) -> None:
        await super().start()
        self.checker.start()

    async def stop(self) -> None:
        await self.checker.stop()
