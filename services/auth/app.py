"""Wiring of the auth service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.auth import passwords
from services.auth.admin_servicers import admin_bindings
from services.auth.audit import TenantLifecycleAuditor
from services.auth.auth_servicer import AccountFlows, AuthServicer, MfaServicer, SigningKeyServicer
from services.auth.bootstrap import BootstrapResult, bootstrap
from services.auth.deps import AuthDeps
from services.auth.invitations import Invitations
from services.auth.keys import KeyEncryption, SigningKeyStore
from services.auth.mfa import SecondFactor
from services.auth.password_reset import PasswordResets
from services.auth.permissions import built_in_roles, grantable
from services.auth.profiles import UserProfiles
from services.auth.revocation import Revoker
from services.auth.roles import RoleCatalog
from services.auth.service_tokens import RegistryLookup, ServiceTokens
from services.auth.sessions import SessionManager
from services.auth.settings import AuthSettings, load_auth_settings
from services.auth.tenant_removal import TenantRemoval
from services.auth.throttle import LoginThrottle, ThrottlePolicy
from services.auth.tokens import TokenIssuer
from services.auth.verification import EmailVerification
from services.runtime.access import MethodPolicy, load_policies
from services.runtime.app import Runtime
from services.runtime.db import MigrationSet
from services.runtime.manifest import Manifest
from services.runtime.server import ServiceBinding
from services.runtime.service import ServiceApp

SERVICE = "auth"
CORE_MIGRATIONS = MigrationSet(service=SERVICE, scope="core", directory=Path(__file__).parent / "migrations" / "core")


def platform_policies(manifest: Manifest) -> list[MethodPolicy]:
    """Access policies of every public API of the manifest's services: the built-in roles are made of them."""
    return list(load_policies(manifest.api_services()).values())


class AuthApp(ServiceApp):
    name = SERVICE
    core_migrations = CORE_MIGRATIONS

    def __init__(self, runtime: Runtime, settings: AuthSettings | None = None) -> None:
        super().__init__(runtime)
        self.settings = settings or load_auth_settings(runtime.settings.data_dir, runtime.settings.environment)
        passwords.set_hashing_threads(self.settings.hashing_threads)
        policies = platform_policies(runtime.settings.manifest)
        encryption = KeyEncryption(self.settings.key_encryption_key)
        longest_token_ttl = max(self.settings.access_token_ttl_seconds, self.settings.api_token_ttl_seconds)
        self.keys = SigningKeyStore(
            runtime.db,
            encryption,
            # A retired key is published until the longest-lived token it may have signed expires.
            longest_token_ttl,
            self.settings.signing_key_activation_delay_seconds,
            min_rotation_seconds=self.settings.signing_key_min_rotation_seconds,
        )
        # Tokens are verified against this process's own key store: no JWKS round trip.
        runtime.key_source = self.keys.published_keys
        profiles = UserProfiles(runtime.db)
        self.deps = AuthDeps(
            db=runtime.db,
            events=runtime.events,
            revoker=Revoker(
                runtime.unit_of_work(SERVICE),
                runtime.settings.redis_url,
                # A revocation is kept until the last token it may refuse has expired (with the
                # verifiers' clock leeways: verifier.outlived_after_seconds): a service account's
                # API token may live longer than a person's access token.
                longest_token_ttl,
                local=runtime.revocations,
            ),
            roles=RoleCatalog(built_in_roles(policies), grantable(policies)),
            profiles=profiles,
            verification=EmailVerification(
                runtime.db, self.tenants, profiles, self.settings.email_verification_ttl_seconds
            ),
        )
        self.second_factor = SecondFactor(runtime.db, encryption)
        throttle = LoginThrottle(
            runtime.db, ThrottlePolicy(self.settings.login_lock_seconds, self.settings.login_max_lock_seconds)
        )
        token_issuer = TokenIssuer(self.keys, self.settings.access_token_ttl_seconds, runtime.settings.public_url)
        self.service_tokens = ServiceTokens(
            token_issuer, RegistryLookup(lambda: runtime.channel("registry"), runtime.credentials.metadata)
        )
        self.sessions = SessionManager(
            self.deps,
            self.settings,
            token_issuer,
            self.tenants,
            throttle,
            self.second_factor,
        )
        self.flows = AccountFlows(
            invitations=Invitations(
                self.deps, self.tenants, self.settings.invitation_ttl_seconds, self.settings.invitation_resend_seconds
            ),
            verification=self.deps.verification,
            resets=PasswordResets(
                runtime.db,
                self.deps.revoker,
                throttle,
                self.sessions.resolve_tenant,
                ttl_seconds=self.settings.password_reset_ttl_seconds,
                per_address=self.settings.reset_max_per_address,
                per_client=self.settings.reset_max_per_client,
            ),
        )
        self.bootstrap_result: BootstrapResult | None = None
        # Invitations, verification and password resets go out from the auth processes.
        runtime.enable_mail()
        # A group subscription: one auth process writes each entry, once.
        runtime.events.subscribe_group("auth-audit", "tenant.", TenantLifecycleAuditor(runtime.db).on_tenant_event)
        runtime.events.subscribe_group("auth-tenants", "tenant.", TenantRemoval(runtime.db).on_tenant_event)

    def servicers(self) -> Sequence[object]:
        return [
            AuthServicer(
                self.sessions,
                self.keys,
                self.deps.profiles,
                self.flows,
                self.service_tokens,
                self.runtime.settings.public_url,
            ),
            MfaServicer(self.second_factor, self.sessions),
            SigningKeyServicer(self.keys, self.runtime.jwks),
        ]

    def bindings(self) -> Sequence[ServiceBinding]:
        return [*super().bindings(), *admin_bindings(self.deps, self.flows.invitations)]

    async def start(self) -> None:
        await super().start()
        await self.keys.active()
        self.bootstrap_result = await bootstrap(
            self.runtime.db, self.settings, self.runtime.settings.data_dir, self.runtime.service_api_key
        )
        self.runtime.service_api_key = self.bootstrap_result.service_api_key

    async def stop(self) -> None:
        await self.flows.resets.drain()
        await super().stop()
