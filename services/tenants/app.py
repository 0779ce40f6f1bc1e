"""Wiring of the tenants service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from services.runtime.app import Runtime
from services.runtime.cache import Cache, tenant_of
from services.runtime.db import MigrationSet, upgrade_core
from services.runtime.lifecycle import SchemaLifecycleServicer, lifecycle_binding
from services.runtime.server import ServiceBinding
from services.runtime.tenant_directory import CachedTenantDirectory, TenantDirectory
from services.tenants.identity import stamp_identity_on
from services.tenants.manager import LocalTenantDirectory, TenantManager
from services.tenants.migrate import TenantMigrator
from services.tenants.participants import LifecycleParticipants
from services.tenants.platform import ensure_platform_tenant
from services.tenants.provisioning import Provisioner, ProvisioningPolicy
from services.tenants.reconciler import Reconciler
from services.tenants.servicer import TenantServicer

SERVICE = "tenants"
TENANT_SERVICE = tenant_service_pb2.DESCRIPTOR.services_by_name["TenantService"].full_name
_MIGRATIONS = Path(__file__).parent / "migrations"
CORE_MIGRATIONS = MigrationSet(service=SERVICE, scope="core", directory=_MIGRATIONS / "core")
TENANT_MIGRATIONS = MigrationSet(service=SERVICE, scope="tenant", directory=_MIGRATIONS / "tenant")
VIEW_TTL_SECONDS = 5.0


class TenantsApp:
    name = SERVICE

    def __init__(self, runtime: Runtime, tenant_migrations: MigrationSet = TENANT_MIGRATIONS) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self._tenant_migrations = tenant_migrations
        participants = LifecycleParticipants(settings.lifecycle_services, runtime.channel, runtime.credentials)
        # Tenant events also go straight to the bus after the commit: caches (this process's, and
        # on Redis everyone's) learn of a suspension before the call returns, not a relay tick later.
        work = runtime.unit_of_work(SERVICE, deliver_at_once=True)
        self.provisioner = Provisioner(
            runtime.db, participants, work, ProvisioningPolicy(settings.provisioning_lease_seconds)
        )
        self.manager = TenantManager(
            runtime.db,
            self.provisioner,
            work,
            tenant_migrations,
            default_server=settings.database.default_tenant_server,
            lease_seconds=settings.provisioning_lease_seconds,
        )
        self.reconciler = Reconciler(
            runtime.db,
            self.provisioner,
            interval_seconds=settings.reconcile_interval_seconds,
            lease_seconds=settings.provisioning_lease_seconds,
        )
        self._directory = CachedTenantDirectory(
            LocalTenantDirectory(runtime.db), settings.tenant_cache_ttl_seconds, runtime.events
        )
        # GetTenant is the hot path (every service's tenant directory, every console page) and
        # changes are rare: answers are kept a few seconds. Changes made through this replica drop
        # the entry at once, other replicas' when their tenant event arrives.
        self._views: Cache[str, tenant_pb2.Tenant] = Cache("tenant-views", ttl_seconds=VIEW_TTL_SECONDS)
        self._views.drop_on(runtime.events, "tenant.", tenant_of)
        self._servicer = TenantServicer(
            self.manager,
            TenantMigrator(runtime.db, participants),
            self._views,
        )
        # The identity row is written on the migration's own connection and transaction.
        self._lifecycle = SchemaLifecycleServicer(SERVICE, runtime.db, tenant_migrations, on_schema=stamp_identity_on)

    def bindings(self) -> Sequence[ServiceBinding]:
        return [
            ServiceBinding(
                TENANT_SERVICE,
                lambda server: tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(self._servicer, server),
            ),
            lifecycle_binding(self._lifecycle),
        ]

    def tenant_directory(self) -> TenantDirectory:
        return self._directory

    async def start(self) -> None:
        await upgrade_core(self._runtime.db, CORE_MIGRATIONS)
        if self._runtime.authenticator_override is None:
            # The platform tenant exists for tokens' sake (administrators and the
            # platform's service account belong to it); a mesh running without
            # token authentication has no use for it.
            await ensure_platform_tenant(
                self._runtime.db,
                self._runtime.settings.database.default_tenant_server,
                self._tenant_migrations,
                SERVICE,
            )
        # Runs in the background: finishing a stalled tenant calls the
        # lifecycle services, which may be this very server, not yet started.
        self.reconciler.start()

    async def stop(self) -> None:
        await self.reconciler.stop()
