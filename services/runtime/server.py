"""gRPC server bootstrap shared by every service.

``create_server`` builds a grpc.aio server with the interceptor chain, the
gRPC health service (one status per hosted service), reflection, and the
access policies of every hosted RPC — refusing to start when one is missing.
It binds the given address (port 0 in tests) and returns the bound port.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.runtime.access import MethodPolicy, load_policies
from services.runtime.health import HealthServicer
from services.runtime.interceptors.authentication import AuthenticationStage, Authenticator
from services.runtime.interceptors.authorization import authorization_stage
from services.runtime.interceptors.chain import CallStage, PipelineInterceptor
from services.runtime.interceptors.identity import CallerStage, IdentityStage
from services.runtime.interceptors.metrics import MetricsObserver
from services.runtime.interceptors.observers import Observers
from services.runtime.interceptors.request_id import client_address_stage, request_id_stage
from services.runtime.interceptors.telemetry import CallObserver, LoggingObserver, trace_context_stage
from services.runtime.interceptors.tenant import TenantStage
from services.runtime.interceptors.tracing import ServerSpanStage, SpanObserver
from services.runtime.interceptors.validation import validation_stage
from services.runtime.mesh_tls import MeshTls, server_credentials
from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.tracing import Tracing
from services.runtime.telemetry.usage import UsageObserver, UsageTally
from services.runtime.tenant_directory import TenantDirectory

log = logging.getLogger("tenantmesh.server")

SERVER_OPTIONS = (
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.so_reuseport", 0),
)


def reflected_services(
    hosted: Sequence[str], mesh_services: Sequence[str], policies: dict[str, MethodPolicy]
) -> tuple[str, ...]:
    """What reflection lists: through the edge it reaches one process (where GetServerInfo goes), so
    it names the mesh's public API besides this server's own services. Internal-only services (every
    RPC restricted to named callers) are left out: the edge does not route them."""
    internal = {
        name
        for name in hosted
        if (methods := [p for p in policies.values() if p.method.startswith(f"/{name}/")])
        and all(p.callers for p in methods)
    }
    listed = {*hosted, *mesh_services} - internal
    return (*sorted(listed), health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)


@dataclass(frozen=True)
class ServiceBinding:
    """A servicer and how to add it to a server."""

    service_name: str  # fully qualified, e.g. "tenantmesh.tenants.v1.TenantService"
    register: Callable[[grpc.aio.Server], None]


def bind(servicer: object) -> ServiceBinding:
    """The binding of a servicer, found from the generated ``<Name>Servicer`` class it subclasses:
    the service's full name from its descriptor and the module's ``add_<Name>Servicer_to_server``."""
    for cls in type(servicer).__mro__:
        if not (cls.__module__.endswith("_pb2_grpc") and cls.__name__.endswith("Servicer")):
            continue
        add: Any = getattr(importlib.import_module(cls.__module__), f"add_{cls.__name__}_to_server")
        messages: Any = importlib.import_module(cls.__module__.removesuffix("_grpc"))
        service = messages.DESCRIPTOR.services_by_name[cls.__name__.removesuffix("Servicer")]
        return ServiceBinding(service.full_name, functools.partial(_register, add, servicer))
    raise TypeError(f"{type(servicer).__name__} does not subclass a generated servicer class")


def _register(add: Callable[[object, grpc.aio.Server], None], servicer: object, server: grpc.aio.Server) -> None:
    add(servicer, server)


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]
    observer: CallObserver = field(default_factory=LoggingObserver)

    async def stop(self, grace_seconds: float) -> None:
        """Reports NOT_SERVING first so balancers drain, then lets calls finish."""
        for name in (*self.service_names, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace_seconds)


async def create_server(
    bindings: Sequence[ServiceBinding],
    *,
    address: str,
    authenticator: Authenticator,
    tenant_directory: TenantDirectory,
    observer: CallObserver | None = None,
    tracing: Tracing | None = None,
    metrics: Metrics | None = None,
    usage: UsageTally | None = None,
    service: str = "tenantmesh",
    mesh_tls: MeshTls | None = None,
    mesh_services: Sequence[str] = (),
) -> RunningServer:
    """``tracing`` (when on) opens a span per call for ``service``; ``metrics`` counts every call;
    ``usage`` counts the calls made for each tenant. With ``mesh_tls`` the port is mutual TLS only
    and ``service`` is also the mesh identity it serves with (its certificate, and what its
    handlers' outgoing calls present); else plaintext. Reflection also lists ``mesh_services``
    (the mesh's public API), as GetServerInfo does."""
    names = tuple(b.service_name for b in bindings)
    policies = load_policies(names)
    observer = observer or LoggingObserver()
    observers: list[CallObserver] = [observer]
    trust_domain = mesh_tls.trust_domain if mesh_tls is not None else None
    # The caller's trace context is kept and passed on as it came whenever no span of this
    # process replaces it: tracing off, or a trace the caller chose not to sample.
    first_stages: list[CallStage] = [
        IdentityStage(service, trust_domain),
        request_id_stage,
        client_address_stage,
        trace_context_stage,
    ]
    if tracing is not None:
        # Last of the first stages: nothing that can fail comes between the span's start and the
        # error boundary whose observers end it.
        first_stages.append(ServerSpanStage(tracing.server_tracer(service)))
        observers.append(SpanObserver())
    if metrics is not None:
        observers.append(MetricsObserver(metrics))
    if usage is not None:
        observers.append(UsageObserver(usage, identities=mesh_tls is not None))
    interceptor = PipelineInterceptor(
        policies,
        first_stages=first_stages,
        stages=[
            CallerStage(identities=mesh_tls is not None),
            AuthenticationStage(authenticator),
            TenantStage(tenant_directory),
            authorization_stage,
            validation_stage,
        ],
        observer=observer if len(observers) == 1 else Observers(observers),
        service=service,
        trust_domain=trust_domain,
    )
    server = grpc.aio.server(interceptors=[interceptor], options=SERVER_OPTIONS)
    for binding in bindings:
        binding.register(server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(reflected_services(names, mesh_services, policies), server)
    if mesh_tls is not None:
        port = server.add_secure_port(address, server_credentials(mesh_tls, service))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    await server.start()
    for name in (*names, ""):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving",
        extra={"address": address, "port": port, "services": list(names), "mesh_tls": mesh_tls is not None},
    )
    return RunningServer(server=server, port=port, health=health_servicer, service_names=names, observer=observer)
