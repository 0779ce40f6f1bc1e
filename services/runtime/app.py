"""Process wiring: shared resources, service apps, startup and shutdown.

A :class:`Runtime` holds what every service in a process shares (settings,
database router, event bus, outgoing channels, authentication). A service app
(:class:`services.runtime.service.ServiceApp`) is one platform service: its
gRPC bindings, its startup work (migrations, background tasks) and its tenant
directory. The mesh runner starts several apps on one runtime; ``python -m
services.mesh serve <name>`` starts one.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import grpc
from tenantmesh.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

from services.runtime.auth.authenticator import JwtAuthenticator
from services.runtime.auth.revocation import RevocationList
from services.runtime.auth.revocation_follower import RevocationFollower
from services.runtime.auth.revocation_store import REVOCATION_MIGRATIONS, load_revocations
from services.runtime.auth.verifier import JwksCache, KeySource, PublicKeys, TokenVerifier, public_key_from_jwk
from services.runtime.client import ChannelPool
from services.runtime.config import ConfigError, Settings, load_key_encryption_key
from services.runtime.context import acting_service_var
from services.runtime.credentials import ServiceCredentials, api_key_credentials
from services.runtime.db import DatabaseRouter, upgrade_core
from services.runtime.db.shared_pins import RedisPins
from services.runtime.delivery import Delivery, load_delivery_settings
from services.runtime.discovery import Discovery, Registrar
from services.runtime.events import EventBus, RedisStreamsEventBus, create_event_bus, load_handler_timeout_seconds
from services.runtime.failover import Failover
from services.runtime.interceptors.authentication import Authenticator
from services.runtime.mail import MailChannel, load_mail_settings
from services.runtime.mail.channel import CHANNEL as MAIL_CHANNEL
from services.runtime.mail.templates import TEMPLATES
from services.runtime.meta import meta_binding
from services.runtime.outbox import OUTBOX_MIGRATIONS, OutboxRelay
from services.runtime.private_files import private_directory
from services.runtime.sealing import Sealer
from services.runtime.server import RunningServer, ServiceBinding, create_server
from services.runtime.storage import BlobBackend, TenantBlobs, load_storage_settings, open_backend
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.pool_waits import time_pool_waits
from services.runtime.telemetry.probes import outbox_probe, pool_probe, stream_probe
from services.runtime.telemetry.sampler import Sampler
from services.runtime.telemetry.settings import load_metrics_settings, load_tracing_settings, load_usage_flush_seconds
from services.runtime.telemetry.tracing import Tracing
from services.runtime.telemetry.usage import USAGE_MIGRATIONS, UsageRecorder
from services.runtime.tenant_directory import CachedTenantDirectory, RemoteTenantDirectory, TenantDirectory
from services.runtime.unit_of_work import UnitOfWork

log = logging.getLogger("tenantmesh.app")


class Authentication(Protocol):
    """How a process's servers authenticate callers, and what its own internal calls present."""

    @property
    def credentials(self) -> ServiceCredentials: ...

    def authenticator(self, directory: TenantDirectory) -> Authenticator: ...


class TokenAuthentication:
    """Bearer tokens verified against the auth service's keys; internal calls carry the token the
    platform service account's API key is exchanged for."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._credentials = api_key_credentials(lambda: runtime.service_api_key, lambda: runtime.channel("auth"))

    @property
    def credentials(self) -> ServiceCredentials:
        return self._credentials

    def authenticator(self, directory: TenantDirectory) -> Authenticator:
        return JwtAuthenticator(self._runtime.token_verifier, self._runtime.revocations, directory)


@dataclass
class Runtime:
    settings: Settings
    db: DatabaseRouter
    events: EventBus
    channels: ChannelPool
    # Token authentication unless another is plugged in.
    authentication: Authentication | None = None
    # Where each service is reached from this process; starts as configured and
    # is updated with the real port when a server binds port 0 (tests).
    addresses: dict[str, str] = field(default_factory=dict)
    revocations: RevocationList = field(default_factory=RevocationList)
    relay: OutboxRelay | None = None
    # Reads revocations from the core database while the Redis event stream is out (None in-process).
    revocation_follower: RevocationFollower | None = None
    # The outbound delivery queue, in processes that queue or send deliveries (enable_delivery).
    delivery: Delivery | None = None
    # The platform service account's API key; the auth service's bootstrap
    # fills it in the embedded default on first start.
    service_api_key: str | None = None
    # The mesh identity outgoing calls present outside any service's work (the first service
    # this process started; in production the only one).
    identity: str = ""
    # Spans (None when tracing is off: then nothing is instrumented) and Prometheus metrics.
    tracing: Tracing | None = None
    metrics: Metrics = field(default_factory=Metrics)
    # Refreshes the gauges that need a query (pools, outbox, stream lag; apps add their own).
    metrics_sampler: Sampler = field(default_factory=Sampler)
    # False with TENANTMESH_METRICS_PORT=off: nothing is counted or sampled.
    metrics_served: bool = True
    # Per-tenant calls per hour, flushed to the core database (telemetry/usage.py).
    usage: UsageRecorder | None = None

    def __post_init__(self) -> None:
        self.auth: Authentication = self.authentication or TokenAuthentication(self)
        self.credentials = self.auth.credentials
        # Where public keys come from: the auth service's JWKS over gRPC; the
        # auth service itself replaces this with its key store.
        self.key_source: KeySource = self._remote_jwks
        # Late-bound: the auth service replaces key_source after the runtime exists.
        self.jwks = JwksCache(lambda: self.key_source())  # noqa: PLW0108
        self.token_verifier = TokenVerifier(self.jwks, issuer=self.settings.public_url)
        # Registers the services this process hosts and resolves the others.
        self.discovery = Discovery(
            self.settings.environment,
            self.settings.version,
            self.addresses,
            self.settings.service_addresses,
            self.channel,
            self.credentials,
            self.channels.failover,
        )

    async def _remote_jwks(self) -> PublicKeys:
        # Fetched for this process, not for the call that needed a key: run it in an
        # empty context so the channel does not forward that call's token and tenant.
        # Auth would check them first, which can need a tenant lookup here, which
        # waits for this very fetch (a deadlock until the deadline).
        task = asyncio.create_task(self._fetch_jwks(), context=contextvars.Context())
        return await task

    async def _fetch_jwks(self) -> PublicKeys:
        stub: Any = auth_service_pb2_grpc.AuthServiceStub(self.channel("auth"))
        response = await stub.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=10, wait_for_ready=True)
        return {key.kid: public_key_from_jwk(key.x, key.y) for key in response.keys if key.kty == "EC"}

    @classmethod
    async def open(
        cls, settings: Settings, authentication: Authentication | None = None, *, process_name: str = "tenantmesh"
    ) -> Runtime:
        """``process_name`` names the spans of the process's shared resources (SQL, Redis, outgoing calls)."""
        private_directory(settings.data_dir)
        tracing_settings = load_tracing_settings(settings.environment)
        tracing = (
            Tracing(tracing_settings, version=settings.version, process_name=process_name)
            if tracing_settings.enabled
            else None
        )
        metrics = Metrics()
        database = settings.database
        router = DatabaseRouter(
            database.url,
            database.tenant_servers,
            sqlite_dir=settings.data_dir / "tenants" if database.is_sqlite else None,
            pool_size=database.pool_size,
            max_overflow=database.max_overflow,
            sqlite_engine_cache_size=database.sqlite_engine_cache_size,
            tenant_db_prefix=database.tenant_db_prefix,
            tenant_replicas=database.tenant_replicas,
            replica_pin_seconds=database.replica_pin_seconds,
            # Replicas of a service share read-your-writes pins through the Redis they share.
            shared_pins=RedisPins(settings.redis_url) if settings.redis_url and database.tenant_replicas else None,
        )
        if tracing is not None:
            router.on_engine(tracing.instrument_engine)
        await router.start()
        events = create_event_bus(settings.redis_url, load_handler_timeout_seconds(settings.environment))
        events.telemetry.attach(tracing.tracer if tracing is not None else None, metrics)
        if tracing is not None and isinstance(events, RedisStreamsEventBus):
            tracing.instrument_redis(events.client)
        await events.start()
        addresses = dict(settings.service_addresses)
        runtime = cls(
            settings=settings,
            db=router,
            events=events,
            channels=ChannelPool(
                settings.mesh_tls,
                tracing.client_interceptors() if tracing is not None else (),
                failover=Failover(addresses),
            ),
            authentication=authentication,
            addresses=addresses,
            service_api_key=settings.service_api_key,
            tracing=tracing,
            metrics=metrics,
            metrics_served=load_metrics_settings(settings.environment).port is not None,
        )
        runtime.revocations.subscribe(events)
        await upgrade_core(router, OUTBOX_MIGRATIONS)
        await upgrade_core(router, REVOCATION_MIGRATIONS)
        # Revocations still in force are known before any server takes a call: from the core
        # database (a restart must not resurrect a token), and from Redis when processes share it.
        await load_revocations(router, runtime.revocations)
        if settings.redis_url:
            await runtime.revocations.load_from_redis(settings.redis_url)
        if isinstance(events, RedisStreamsEventBus):
            runtime.revocation_follower = RevocationFollower(router, runtime.revocations, events.stream_healthy)
            runtime.revocation_follower.start()
        await upgrade_core(router, USAGE_MIGRATIONS)
        runtime.relay = OutboxRelay(router, events)
        runtime.usage = UsageRecorder(router, load_usage_flush_seconds(settings.environment))
        metrics.caches.add(lambda: runtime.jwks.stats)
        runtime.metrics_sampler.add("db_pools", pool_probe(router, metrics))
        if runtime.metrics_served:
            time_pool_waits(router, metrics)
        runtime.metrics_sampler.add("outbox", outbox_probe(runtime.relay, metrics))
        if isinstance(events, RedisStreamsEventBus):
            runtime.metrics_sampler.add("event_streams", stream_probe(events, metrics))
        return runtime

    def unit_of_work(self, producer: str, *, deliver_at_once: bool = False) -> UnitOfWork:
        """Transactions of ``producer`` whose events go out with their commit (services.runtime.unit_of_work);
        ``deliver_at_once`` also hands them to the bus straight after the commit."""
        return UnitOfWork(self.db, producer, relay=self.relay, deliver_to=self.events if deliver_at_once else None)

    @cached_property
    def sealer(self) -> Sealer:
        """Seals secrets at rest under the platform's key-encryption key, read on first use.

        Only processes that seal something read the key (and in the embedded default
        generate it), so the others are never given it.
        """
        return Sealer(load_key_encryption_key(self.settings.environment, self.settings.data_dir))

    @cached_property
    def blob_backend(self) -> BlobBackend:
        """The process's blob store (TENANTMESH_BLOB_STORE), opened on first use."""
        return open_backend(load_storage_settings(self.settings.environment, self.settings.data_dir))

    def blobs(self, service: str) -> TenantBlobs:
        """``service``'s blobs, each keyed by the current call's tenant."""
        return TenantBlobs(self.blob_backend, service)

    def enable_delivery(self) -> Delivery:
        """The process's outbound delivery queue; its table is migrated when the first app starts."""
        if self.delivery is None:
            self.delivery = Delivery(
                self.db,
                self.sealer,
                load_delivery_settings(self.settings.environment),
                # A send in progress gets the grace in-flight calls get.
                stop_grace_seconds=self.settings.shutdown_grace_seconds,
            )
        return self.delivery

    def enable_mail(self) -> None:
        """Lets this process queue mail and makes its dispatcher send it (call from an app's constructor).

        Only processes that queue mail send it: they alone need the key-encryption key and the
        SMTP credentials, and a job left by one of them that died is sent by another replica of
        the same service or by itself once restarted.
        """
        delivery = self.enable_delivery()
        if not delivery.serves(MAIL_CHANNEL):
            delivery.serve(MailChannel(load_mail_settings(self.settings), TEMPLATES))

    def channel(self, service: str) -> grpc.aio.Channel:
        """A channel to ``service``; with mesh TLS it presents the certificate of the service this
        code works for (the acting service), else of the process."""
        try:
            address = self.addresses[service]
        except KeyError:
            raise ConfigError(f"no address configured for service {service!r}") from None
        return self.channels.get(address, service, acting_service_var.get() or self.identity)

    def tenant_directory(self, source: TenantDirectory | None = None) -> CachedTenantDirectory:
        """Tenants as ``source`` knows them (by default the tenants service, asked over gRPC with this
        process's credentials), cached and dropped by tenant events."""
        return CachedTenantDirectory(
            source or RemoteTenantDirectory(lambda: self.channel("tenants"), self.credentials),
            self.settings.tenant_cache_ttl_seconds,
            self.events,
        )

    async def close(self) -> None:
        await self.metrics_sampler.stop()
        await self.discovery.close()
        if self.relay is not None:
            await self.relay.stop()
        if self.revocation_follower is not None:
            await self.revocation_follower.stop()
        if self.delivery is not None:
            await self.delivery.stop()
        if self.usage is not None:
            await self.usage.stop()
        if "blob_backend" in self.__dict__:
            await self.blob_backend.close()
        await self.channels.close()
        await self.events.close()
        await self.db.dispose()
        if self.tracing is not None:
            await self.tracing.shutdown()


class App(Protocol):
    """What the runtime needs of a service app (see services.runtime.service.ServiceApp)."""

    name: str

    def bindings(self) -> Sequence[ServiceBinding]: ...
    def tenant_directory(self) -> TenantDirectory: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


AppFactory = Callable[[Runtime], App]


@dataclass
class StartedApp:
    app: App
    server: RunningServer
    # Keeps the service registered in the registry (None when discovery is off).
    registration: Registrar | None = None


async def start_app(app: App, runtime: Runtime, address: str) -> StartedApp:
    if runtime.settings.mesh_tls is not None:
        # Its mesh certificate must be there and name it before anything starts: a service that
        # cannot serve should not run its start (migrations, background work) first.
        runtime.settings.mesh_tls.read(app.name)
    if runtime.delivery is not None:
        # Its table exists before the first call can queue anything; jobs left by a
        # process that died go out now. Before the app's own start: auth's start makes the
        # service key usable, and until its server is bound other services' internal
        # calls would wait on an address it does not serve yet (port 0 in tests).
        await runtime.delivery.start()
    runtime.identity = runtime.identity or app.name
    if not address.endswith(":0"):
        # Where this process reaches the app from now on, already while it starts: a call its
        # start makes possible (auth's start makes the service key usable) then waits for the
        # bind instead of going to a configured address that differs.
        runtime.addresses[app.name] = address
    # Tasks the app's start spawns (reconcilers, consumers) keep working as the app: their outgoing
    # calls present its mesh certificate.
    acting = acting_service_var.set(app.name)
    try:
        await app.start()
    finally:
        acting_service_var.reset(acting)
    bindings = list(app.bindings())
    served = [b.service_name for b in bindings]
    bindings.append(meta_binding(runtime.settings.version, served, runtime.settings.manifest.api_services()))
    server = await create_server(
        bindings,
        address=address,
        authenticator=runtime.auth.authenticator(app.tenant_directory()),
        tenant_directory=app.tenant_directory(),
        tracing=runtime.tracing,
        # With no metrics endpoint nobody can read them: calls are not counted at all.
        metrics=runtime.metrics if runtime.metrics_served else None,
        usage=runtime.usage.tally if runtime.usage is not None else None,
        service=app.name,
        mesh_tls=runtime.settings.mesh_tls,
        mesh_services=runtime.settings.manifest.api_services(),
    )
    host = address.rsplit(":", 1)[0]
    runtime.addresses[app.name] = f"{host}:{server.port}"
    registration = runtime.discovery.announce(app.name, address, server.port, served)
    if runtime.relay is not None:
        # Started once the first app has subscribed; events committed before a
        # crash are published now.
        runtime.relay.start()
    if runtime.metrics_served:
        runtime.metrics_sampler.start()
    if runtime.usage is not None:
        runtime.usage.start()
    return StartedApp(app=app, server=server, registration=registration)


async def stop_apps(started: Sequence[StartedApp], grace_seconds: float) -> None:
    # Out of discovery first (nobody is sent here any more), then the servers
    # (drain calls), then the apps' background work.
    await asyncio.gather(*(s.registration.stop() for s in started if s.registration is not None))
    await asyncio.gather(*(s.server.stop(grace_seconds) for s in started))
    for item in reversed(started):
        await item.app.stop()


def shutdown_event() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
