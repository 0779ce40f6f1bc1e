"""The platform's own services in the registry: each registers itself, and finds the others there.

:class:`Registrar` (one per hosted service): makes sure the catalogue knows
the service (an INTERNAL_GRPC service whose version is this build's, with the
descriptor set of the APIs it serves as the contract and the permissions its
RPCs declare), registers an instance at the address the server is reached
at, keeps its lease alive with heartbeats and deregisters it on shutdown.

:class:`Resolver` (one per process): keeps ``Runtime.addresses`` of the
services the process does not host pointed at a healthy instance, asking the
registry every refresh period; every healthy instance is handed to the
:class:`~services.runtime.failover.Failover`, so a call that finds its instance
dead moves to another at once. When the registry is not up (yet), or knows no
healthy instance, the configured static address is used: the mesh starts in
any order and keeps working without the registry.

Both run in the background in an empty context (their calls carry the
service's own credentials, never a caller's) and retry with backoff; nothing
here ever fails a service's start.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from tenantmesh.registry.v1 import instance_pb2, registry_service_pb2, registry_service_pb2_grpc, service_pb2

from services.runtime.access import INFRASTRUCTURE_SERVICES, load_policies
from services.runtime.background import stop_background
from services.runtime.config import EnvReader
from services.runtime.context import acting_service_var
from services.runtime.credentials import ServiceCredentials
from services.runtime.failover import Failover
from services.runtime.rich_status import reason_of

log = logging.getLogger("tenantmesh.discovery")


def _brief(exc: BaseException) -> str:
    """One line for an expected start-up retry: a gRPC error's code and details, not its
    multi-line debug string."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return f"{type(exc).__name__}: {exc}"


REGISTRY = "registry"
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - recognised, not bound
_MAX_BACKOFF_SECONDS = 30.0
_CALL_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class DiscoverySettings:
    # Whether services register themselves and resolve each other at all.
    enabled: bool
    # Lease of a service's instance; it heartbeats three times per lease.
    lease_seconds: int
    # How often the resolver asks the registry.
    refresh_seconds: float
    # What instances advertise when the server binds every interface; by
    # default the address the host name resolves to.
    advertise_host: str | None
    # First retry delay after a failed call (doubles up to 30 s).
    retry_seconds: float


def load_discovery_settings(env: Mapping[str, str]) -> DiscoverySettings:
    read = EnvReader(env)

    def switch(value: str) -> bool:
        if value.lower() not in ("on", "off", "true", "false", "1", "0"):
            raise ValueError("expected on or off")
        return value.lower() in ("on", "true", "1")

    return DiscoverySettings(
        enabled=read.get("TENANTMESH_DISCOVERY", True, switch),
        lease_seconds=read.count("TENANTMESH_DISCOVERY_LEASE_SECONDS", 30, minimum=3),
        refresh_seconds=read.positive("TENANTMESH_DISCOVERY_REFRESH_SECONDS", 15.0),
        advertise_host=read.raw("TENANTMESH_ADVERTISE_HOST"),
        retry_seconds=read.positive("TENANTMESH_DISCOVERY_RETRY_SECONDS", 1.0),
    )


def advertised_address(bound: str, port: int, advertise_host: str | None) -> str:
    """Where others reach a server bound to ``bound`` (host:port) on ``port``."""
    host = bound.rsplit(":", 1)[0]
    if host in _WILDCARD_HOSTS:
        host = advertise_host or _own_ip()
    return f"{host}:{port}"


def _own_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def contract_of(service_names: Iterable[str]) -> bytes:
    """The descriptor set of the files defining ``service_names`` and the Tenantmesh files they import."""
    pool = descriptor_pool.Default()
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    pending = [pool.FindServiceByName(name).file for name in service_names if name not in INFRASTRUCTURE_SERVICES]
    while pending:
        file = pending.pop()
        if file.name in files:
            continue
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        files[file.name] = proto
        pending += [d for d in file.dependencies if d.name.startswith("tenantmesh/")]
    return descriptor_pb2.FileDescriptorSet(file=[files[n] for n in sorted(files)]).SerializeToString()


def service_definition(name: str, version: str, service_names: Sequence[str]) -> service_pb2.Service:
    """How a platform service describes itself in the catalogue."""
    served = [n for n in service_names if n not in INFRASTRUCTURE_SERVICES]
    permissions = sorted({p.permission for p in load_policies(served).values() if p.permission.startswith(f"{name}.")})
    return service_pb2.Service(
        name=name,
        display_name=f"Tenantmesh {name}",
        description=f"The platform's {name} service.",
        kind=service_pb2.SERVICE_KIND_INTERNAL_GRPC,
        owner="tenantmesh",
        tags=["platform"],
        permissions=[service_pb2.PermissionDefinition(name=p) for p in permissions],
        versions=[service_pb2.ServiceVersion(version=version, descriptor_set=contract_of(served))],
    )


Metadata = tuple[tuple[str, str], ...]


def _code(exc: BaseException) -> grpc.StatusCode | None:
    return exc.code() if isinstance(exc, grpc.aio.AioRpcError) else None


class _Backoff:
    def __init__(self, first: float) -> None:
        self._first = first
        self._next = first
        self.failures = 0

    def reset(self) -> None:
        self._next = self._first
        self.failures = 0

    async def wait(self) -> None:
        self.failures += 1
        await asyncio.sleep(self._next)
        self._next = min(self._next * 2, _MAX_BACKOFF_SECONDS)


class Registrar:
    """Keeps one hosted service registered, with a live instance, until stopped."""

    def __init__(
        self,
        definition: service_pb2.Service,
        address: str,
        channel: Callable[[], grpc.aio.Channel],
        credentials: ServiceCredentials,
        settings: DiscoverySettings,
    ) -> None:
        self.definition = definition
        self.address = address
        self._channel = channel
        self._credentials = credentials
        self._settings = settings
        self.instance_id: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def version(self) -> str:
        return self.definition.versions[0].version

    def start(self) -> None:
        self._task = _background(self._run(), f"registrar-{self.name}", self.name)

    async def _stubs(self) -> tuple[Any, Any, Metadata]:
        channel = self._channel()
        return (
            registry_service_pb2_grpc.CatalogServiceStub(channel),
            registry_service_pb2_grpc.InstanceServiceStub(channel),
            await self._credentials.metadata(),
        )

    async def _run(self) -> None:
        backoff = _Backoff(self._settings.retry_seconds)
        while True:
            try:
                if self.instance_id is None:
                    await self.register_once()
                    log.info(
                        "registered in the registry",
                        extra={"service": self.name, "address": self.address, "instance_id": self.instance_id},
                    )
                await asyncio.sleep(self._settings.lease_seconds / 3)
                await self.heartbeat_once()
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The registry may not be up yet, or be restarting: expected, so quiet after the first.
                level = logging.INFO if backoff.failures == 0 else logging.DEBUG
                log.log(level, "registry not reachable; retrying", extra={"service": self.name, "error": _brief(exc)})
                await backoff.wait()

    async def register_once(self) -> None:
        """Makes sure the catalogue has the service and this version, then registers the instance."""
        catalog, instances, metadata = await self._stubs()
        await self._ensure_service(catalog, metadata)
        response = await instances.RegisterInstance(
            registry_service_pb2.RegisterInstanceRequest(
                service=self.name,
                instance=instance_pb2.Instance(version=self.version, address=self.address),
                ttl_seconds=self._settings.lease_seconds,
            ),
            metadata=metadata,
            timeout=_CALL_TIMEOUT_SECONDS,
        )
        self.instance_id = response.instance.instance_id

    async def _ensure_service(self, catalog: Any, metadata: Metadata) -> None:
        try:
            response = await catalog.GetService(
                registry_service_pb2.GetServiceRequest(name=self.name, view=registry_service_pb2.SERVICE_VIEW_BASIC),
                metadata=metadata,
                timeout=_CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            await self._register_service(catalog, metadata)
            return
        if self.version not in {v.version for v in response.service.versions}:
            await self._register_version(catalog, metadata)

    async def _register_service(self, catalog: Any, metadata: Metadata) -> None:
        try:
            await catalog.RegisterService(
                registry_service_pb2.RegisterServiceRequest(service=self.definition, request_id=str(uuid.uuid4())),
                metadata=metadata,
                timeout=_CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            # Another replica of the service registered it first.
            await self._ensure_service(catalog, metadata)

    async def _register_version(self, catalog: Any, metadata: Metadata) -> None:
        # Forced: the platform's own contracts are guarded by `buf breaking` in CI;
        # the registry records them, and logs what a breaking release changed.
        try:
            response = await catalog.RegisterServiceVersion(
                registry_service_pb2.RegisterServiceVersionRequest(
                    service=self.name, version=self.definition.versions[0], force=True
                ),
                metadata=metadata,
                timeout=_CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if reason_of(exc) != "SERVICE_VERSION_EXISTS":
                raise
            # A build with other protos under the same version number (development).
            log.warning("version registered with another contract", extra={"service": self.name})
            return
        for item in response.forced_breaks:
            log.warning(
                "new version breaks the previous contract",
                extra={"service": self.name, "break": f"{item.kind} {item.subject}"},
            )

    async def heartbeat_once(self) -> None:
        _, instances, metadata = await self._stubs()
        try:
            await instances.Heartbeat(
                registry_service_pb2.HeartbeatRequest(instance_id=self.instance_id or ""),
                metadata=metadata,
                timeout=_CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                # The lease ran out (the registry was unreachable for too long): register again.
                self.instance_id = None
                return
            raise

    async def stop(self) -> None:
        await stop_background(self._task)
        self._task = None
        if self.instance_id is not None:
            instance_id, self.instance_id = self.instance_id, None
            # Best effort and bounded: if it fails, the lease runs out.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_isolated(self._deregister(instance_id), self.name), timeout=5)

    async def _deregister(self, instance_id: str) -> None:
        _, instances, metadata = await self._stubs()
        await instances.DeregisterInstance(
            registry_service_pb2.DeregisterInstanceRequest(instance_id=instance_id), metadata=metadata, timeout=2
        )


class Resolver:
    """Points ``addresses`` of services not hosted here at healthy instances, or back at the static ones."""

    def __init__(
        self,
        addresses: dict[str, str],
        static: Mapping[str, str],
        channel: Callable[[], grpc.aio.Channel],
        credentials: ServiceCredentials,
        settings: DiscoverySettings,
        failover: Failover | None = None,
    ) -> None:
        self._addresses = addresses
        # Every healthy instance is known to it, so a caller can move off a dead one at once.
        self._failover = failover or Failover(addresses)
        self._static = dict(static)
        self._channel = channel
        self._credentials = credentials
        self._settings = settings
        self.hosted: set[str] = set()
        # When each service's address was last confirmed by the registry.
        self._confirmed: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = _background(self._run(), "resolver")

    def remote_services(self) -> list[str]:
        # The registry itself is always reached at its static address.
        return [n for n in self._static if n not in self.hosted and n != REGISTRY]

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.debug("resolving through the registry failed", exc_info=True)
            await asyncio.sleep(self._settings.refresh_seconds)

    async def refresh_once(self) -> None:
        stub: Any = registry_service_pb2_grpc.DiscoveryServiceStub(self._channel())
        try:
            metadata = await self._credentials.metadata()
        except Exception:
            metadata = None
        for name in self.remote_services():
            found: list[str] | None = None
            if metadata is not None:
                try:
                    response = await stub.ResolveService(
                        registry_service_pb2.ResolveServiceRequest(service=name),
                        metadata=metadata,
                        timeout=_CALL_TIMEOUT_SECONDS,
                    )
                    found = [i.address for i in response.instances]
                except grpc.aio.AioRpcError as exc:
                    # NOT_FOUND: not registered (yet); anything else: the registry is not usable now.
                    found = [] if _code(exc) == grpc.StatusCode.NOT_FOUND else None
            self._apply(name, found)

    def _apply(self, name: str, found: list[str] | None) -> None:
        current = self._addresses.get(name, self._static[name])
        now = time.monotonic()
        if found is not None:
            self._failover.learn(name, found)
        if found:
            chosen = self._failover.choose(name, current, found)
            self._confirmed[name] = now
        elif found is None and now - self._confirmed.get(name, -1e9) < 3 * self._settings.refresh_seconds:
            # The registry did not answer: a recently confirmed instance beats the static guess.
            chosen = current
        else:
            chosen = self._static[name]
        if chosen != current:
            log.info("service address changed", extra={"service": name, "address": chosen})
            self._addresses[name] = chosen

    async def stop(self) -> None:
        await stop_background(self._task)
        self._task = None


class Discovery:
    """The registrars of a process's services and its resolver."""

    def __init__(
        self,
        env: Mapping[str, str],
        version: str,
        addresses: dict[str, str],
        static: Mapping[str, str],
        channel: Callable[[str], grpc.aio.Channel],
        credentials: ServiceCredentials,
        failover: Failover | None = None,
    ) -> None:
        self.settings = load_discovery_settings(env)
        self._version = version
        self._channel = channel
        self._credentials = credentials
        self.resolver = Resolver(addresses, static, lambda: channel(REGISTRY), credentials, self.settings, failover)

    def announce(self, name: str, bound: str, port: int, service_names: Sequence[str]) -> Registrar | None:
        """Starts keeping ``name`` registered (served on ``port`` of ``bound``); None when disabled."""
        self.resolver.hosted.add(name)
        if not self.settings.enabled:
            return None
        registrar = Registrar(
            service_definition(name, self._version, service_names),
            advertised_address(bound, port, self.settings.advertise_host),
            lambda: self._channel(REGISTRY),
            self._credentials,
            self.settings,
        )
        registrar.start()
        self.resolver.start()
        return registrar

    async def close(self) -> None:
        await self.resolver.stop()


def _background(work: Coroutine[Any, Any, None], name: str, acting: str = "") -> asyncio.Task[None]:
    # An empty context: the task must not inherit (and forward) the context of
    # whatever call happened to start it. A registrar's calls present its own service's mesh
    # certificate (``acting``): the registry lets a service register only its own instances,
    # and a process of the embedded mesh hosts several.
    context = contextvars.Context()
    if acting:
        context.run(acting_service_var.set, acting)
    return asyncio.create_task(work, name=name, context=context)


async def _isolated(work: Coroutine[Any, Any, None], acting: str = "") -> None:
    await _background(work, "discovery-call", acting)
