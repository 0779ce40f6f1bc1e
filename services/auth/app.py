"""Wiring of the auth service."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from tenantmesh.auth.v1 import admin_service_pb2, admin_service_pb2_grpc, auth_service_pb2, auth_service_pb2_grpc

from services.auth import passwords
from services.auth.admin_servicers import admin_bindings
from services.auth.audit import TenantLifecycleAuditor
from services.auth.auth_servicer import AuthServicer, SigningKeyServicer
from services.auth.bootstrap import BootstrapResult, bootstrap
from services.auth.deps import AuthDeps
from services.auth.keys import KeyEncryption, SigningKeyStore
from services.auth.permissions import built_in_roles, grantable
from services.auth.profiles import UserProfiles
from services.auth.revocation import Revoker
from services.auth.roles import RoleCatalog
from services.auth.sessions import SessionManager
from services.auth.settings import AuthSettings, load_auth_settings
from services.auth.throttle import LoginThrottle, ThrottlePolicy
from services.auth.tokens import TokenIssuer
from services.runtime.access import MethodPolicy, load_policies
from services.runtime.app import Runtime
from services.runtime.db import MigrationSet, upgrade_core
from services.runtime.server import ServiceBinding
from services.runtime.tenant_directory import CachedTenantDirectory, RemoteTenantDirectory, TenantDirectory

SERVICE = "auth"
CORE_MIGRATIONS = MigrationSet(service=SERVICE, scope="core", directory=Path(__file__).parent / "migrations" / "core")


AUTH_SERVICE = auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
SIGNING_KEY_SERVICE = admin_service_pb2.DESCRIPTOR.services_by_name["SigningKeyService"].full_name
# Modules whose services' permissions the built-in roles are derived from.
PLATFORM_API_MODULES = (
    "tenantmesh.tenants.v1.tenant_service_pb2",
    "tenantmesh.auth.v1.auth_service_pb2",
    "tenantmesh.auth.v1.admin_service_pb2",
    "tenantmesh.registry.v1.registry_service_pb2",
)


def platform_policies() -> list[MethodPolicy]:
    """Access policies of every platform API compiled into this build."""
    names: list[str] = []
    for module in PLATFORM_API_MODULES:
        descriptor = importlib.import_module(module).DESCRIPTOR
        names += [service.full_name for service in descriptor.services_by_name.values()]
    return list(load_policies(names).values())


class AuthApp:
    name = SERVICE

    def __init__(self, runtime: Runtime, settings: AuthSettings | None = None) -> None:
        self._runtime = runtime
        self.settings = settings or load_auth_settings(runtime.settings.data_dir, runtime.settings.environment)
        passwords.set_hashing_threads(self.settings.hashing_threads)
        policies = platform_policies()
        self.keys = SigningKeyStore(
            runtime.db,
            KeyEncryption(self.settings.key_encryption_key),
            self.settings.access_token_ttl_seconds,
            self.settings.signing_key_activation_delay_seconds,
        )
        # Tokens are verified against this process's own key store: no JWKS round trip.
        runtime.key_source = self.keys.published_keys
        self.deps = AuthDeps(
            db=runtime.db,
            events=runtime.events,
            revoker=Revoker(
                runtime.unit_of_work(SERVICE),
                runtime.settings.redis_url,
                self.settings.access_token_ttl_seconds,
                local=runtime.revocations,
            ),
            roles=RoleCatalog(built_in_roles(policies), grantable(policies)),
            profiles=UserProfiles(runtime.db),
        )
        remote = RemoteTenantDirectory(runtime.channel("tenants"), runtime.credentials)
        self._directory = CachedTenantDirectory(remote, runtime.settings.tenant_cache_ttl_seconds, runtime.events)
        self.sessions = SessionManager(
            self.deps,
            self.settings,
            TokenIssuer(self.keys, self.settings.access_token_ttl_seconds),
            self._directory,
            LoginThrottle(ThrottlePolicy(self.settings.login_lock_seconds, self.settings.login_max_lock_seconds)),
        )
        self.bootstrap_result: BootstrapResult | None = None
        # A group subscription: one auth process writes each entry, once.
        runtime.events.subscribe_group("auth-audit", "tenant.", TenantLifecycleAuditor(runtime.db).on_tenant_event)

    def bindings(self) -> Sequence[ServiceBinding]:
        auth = AuthServicer(self.sessions, self.keys, self.deps.profiles)
        keys = SigningKeyServicer(self.keys, self._runtime.jwks)
        return [
            ServiceBinding(
                AUTH_SERVICE, lambda server: auth_service_pb2_grpc.add_AuthServiceServicer_to_server(auth, server)
            ),
            ServiceBinding(
                SIGNING_KEY_SERVICE,
                lambda server: admin_service_pb2_grpc.add_SigningKeyServiceServicer_to_server(keys, server),
            ),
            *admin_bindings(self.deps),
        ]

    def tenant_directory(self) -> TenantDirectory:
        return self._directory

    async def start(self) -> None:
        await upgrade_core(self._runtime.db, CORE_MIGRATIONS)
        await self.keys.active()
        self.bootstrap_result = await bootstrap(
            self._runtime.db, self.settings, self._runtime.settings.data_dir, self._runtime.service_api_key
        )
        self._runtime.service_api_key = self.bootstrap_result.service_api_key

    async def stop(self) -> None:
        return None
