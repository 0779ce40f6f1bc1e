"""Wiring of the tenants service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tenantmesh.tenants.v1 import tenant_pb2

from services.runtime.app import Runtime
from services.runtime.cache import Cache, tenant_of
from services.runtime.db import MigrationSet
from services.runtime.lifecycle import SchemaLifecycleServicer
from services.runtime.service import ServiceApp
from services.tenants.identity import stamp_identity_on
from services.tenants.manager import LocalTenantDirectory, TenantManager
from services.tenants.metrics import tenant_count_probe
from services.tenants.migrate import TenantMigrator
from services.tenants.participants import LifecycleParticipants
from services.tenants.placement import ServerPlacement
from services.tenants.platform import ensure_platform_tenant
from services.tenants.provisioning import Provisioner, ProvisioningPolicy
from services.tenants.reconciler import Reconciler
from services.tenants.servicer import TenantServicer
from services.tenants.usage import TenantUsage

SERVICE = "tenants"
_MIGRATIONS = Path(__file__).parent / "migrations"
CORE_MIGRATIONS = MigrationSet(service=SERVICE, scope="core", directory=_MIGRATIONS / "core")
TENANT_MIGRATIONS = MigrationSet(service=SERVICE, scope="tenant", directory=_MIGRATIONS / "tenant")
VIEW_TTL_SECONDS = 5.0


class TenantsApp(ServiceApp):
    name = SERVICE
    core_migrations = CORE_MIGRATIONS
    # It makes the platform tenant itself, its schema included (ensure_platform_tenant).
    platform_tenant_schema = False

    def __init__(self, runtime: Runtime, tenant_migrations: MigrationSet = TENANT_MIGRATIONS) -> None:
        # The tenants service answers tenant lookups from its own tables.
        super().__init__(runtime, tenants=LocalTenantDirectory(runtime.db))
        settings = runtime.settings
        self.tenant_migrations = tenant_migrations
        participants = LifecycleParticipants(settings.lifecycle_services, runtime.channel, runtime.credentials)
        # Tenant events also go straight to the bus after the commit: caches (this process's, and
        # on Redis everyone's) learn of a suspension before the call returns, not a relay tick later.
        work = runtime.unit_of_work(SERVICE, deliver_at_once=True)
        self.provisioner = Provisioner(
            runtime.db, participants, work, ProvisioningPolicy(settings.provisioning_lease_seconds), runtime.metrics
        )
        self.manager = TenantManager(
            runtime.db,
            self.provisioner,
            work,
            tenant_migrations,
            placement=ServerPlacement(settings.database.tenant_server_weights),
            lease_seconds=settings.provisioning_lease_seconds,
        )
        self.reconciler = Reconciler(
            runtime.db,
            self.provisioner,
            interval_seconds=settings.reconcile_interval_seconds,
            lease_seconds=settings.provisioning_lease_seconds,
        )
        self.migrator = TenantMigrator(runtime.db, participants, runtime.metrics)
        # GetTenant is the hot path (every service's tenant directory, every console page) and
        # changes are rare: answers are kept a few seconds. Changes made through this replica drop
        # the entry at once, other replicas' when their tenant event arrives.
        self.views: Cache[str, tenant_pb2.Tenant] = Cache("tenant-views", ttl_seconds=VIEW_TTL_SECONDS)
        self.views.drop_on(runtime.events, "tenant.", tenant_of)
        runtime.metrics_sampler.add("tenants", tenant_count_probe(runtime.db, runtime.metrics))

    def servicers(self) -> Sequence[object]:
        usage = TenantUsage(self.runtime.db, self.manager)
        return [TenantServicer(self.manager, self.migrator, self.views, usage, directory=self.tenants)]

    def lifecycle(self) -> SchemaLifecycleServicer:
        # The identity row is written on the migration's own connection and transaction.
        assert self.tenant_migrations is not None
        return SchemaLifecycleServicer(SERVICE, self.runtime.db, self.tenant_migrations, on_schema=stamp_identity_on)

    async def start(self) -> None:
        await super().start()
        await self.ensure_platform_tenant()
        # Runs in the background: finishing a stalled tenant calls the
        # lifecycle services, which may be this very server, not yet started.
        self.reconciler.start()

    async def ensure_platform_tenant(self) -> None:
        """The platform tenant exists for tokens' sake: administrators and the platform's service
        account belong to it."""
        assert self.tenant_migrations is not None
        await ensure_platform_tenant(
            self.runtime.db, self.runtime.settings.database.default_tenant_server, self.tenant_migrations, SERVICE
        )

    async def stop(self) -> None:
        await self.reconciler.stop()
