"""Fixtures that put a real Envoy in front of in-process gRPC servers.

``edge_factory`` starts Envoy for any list of Upstreams (free ports, unique
``--base-id``, dev TLS, access log in a temp dir) and stops every Envoy it started
when the test ends (``module_edge_factory``: when the module ends, for module-scoped
fixtures). An Envoy outliving its test would keep health-checking upstreams that are
gone, for the rest of the run. ``grpc_upstream_factory`` starts grpc.aio servers on
127.0.0.1 with the standard health service. Envoy is a project dependency: if it is
missing these fixtures fail, they never skip.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc

from services.mesh.devtls import DevTls, ensure_dev_tls
from services.mesh.edge import EdgeMeshTls, EdgeSettings, Upstream, edge_mesh_tls
from services.mesh.envoy_process import EnvoyProcess
from services.mesh.static_site import StaticSite
from tests.support.platform import Platform
from tests.support.ports import free_port

META_PACKAGE = "tenantmesh.meta.v1"
META_SERVICE = "tenantmesh.meta.v1.MetaService"

_base_ids = itertools.count(1)


def unique_base_id() -> int:
    """A --base-id no other Envoy of this machine's test runs uses (pid-derived)."""
    return (os.getpid() % 1_000_000) * 100 + next(_base_ids) % 100


# --------------------------------------------------------------------------- upstreams


class FakeMetaService(meta_service_pb2_grpc.MetaServiceServicer):
    """MetaService as every Tenantmesh process serves it; records the metadata it saw."""

    def __init__(self) -> None:
        self.seen_metadata: list[dict[str, str]] = []

    async def GetServerInfo(
        self,
        request: meta_service_pb2.GetServerInfoRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> meta_service_pb2.GetServerInfoResponse:
        self.seen_metadata.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        return meta_service_pb2.GetServerInfoResponse(
            product="tenantmesh", version="0.0.0-test", services=[META_SERVICE]
        )


@dataclass
class GrpcUpstream:
    """A running in-process grpc.aio server."""

    server: grpc.aio.Server
    port: int
    health: HealthServicer
    servicers: dict[str, Any] = field(default_factory=dict)

    def upstream(self, name: str, packages: Sequence[str], health_service: str = "") -> Upstream:
        return Upstream(
            name=name,
            host="127.0.0.1",
            port=self.port,
            packages=tuple(packages),
            health_service=health_service,
        )


@pytest.fixture(scope="session")
async def grpc_upstream_factory() -> AsyncIterator[Callable[..., Any]]:
    """``await factory({service_name: (add_fn, servicer)})`` -> GrpcUpstream (health SERVING
    for "" and every listed service). Servers stop at session end."""
    servers: list[grpc.aio.Server] = []

    async def start(services: dict[str, tuple[Callable[[Any, grpc.aio.Server], None], Any]]) -> GrpcUpstream:
        server = grpc.aio.server()
        health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        for add, servicer in services.values():
            add(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append(server)
        await health.set("", health_pb2.HealthCheckResponse.SERVING)
        for name in services:
            await health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return GrpcUpstream(
            server=server,
            port=port,
            health=health,
            servicers={name: servicer for name, (_, servicer) in services.items()},
        )

    yield start
    for server in servers:
        await server.stop(grace=None)


@pytest.fixture(scope="session")
async def meta_upstream(grpc_upstream_factory: Callable[..., Any]) -> GrpcUpstream:
    """An in-process server with MetaService and grpc.health.v1."""
    upstream: GrpcUpstream = await grpc_upstream_factory(
        {META_SERVICE: (meta_service_pb2_grpc.add_MetaServiceServicer_to_server, FakeMetaService())}
    )
    return upstream


# --------------------------------------------------------------------------- envoy


@dataclass
class RunningEdge:
    settings: EdgeSettings
    upstreams: tuple[Upstream, ...]
    tls: DevTls
    envoy: EnvoyProcess
    config_path: Path
    access_log: Path
    envoy_log: Path

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.settings.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    @property
    def grpc_plain_target(self) -> str:
        return f"127.0.0.1:{self.settings.http_port}"

    @property
    def grpc_tls_target(self) -> str:
        return f"127.0.0.1:{self.settings.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls.ca_cert))

    def https_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """httpx client for the TLS listener, trusting only the dev CA (HTTP/1.1)."""
        return httpx.AsyncClient(base_url=self.https_url, verify=self.ssl_context(), timeout=10, **kwargs)

    def http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.http_url, timeout=10, **kwargs)

    def grpc_plain_channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.grpc_plain_target)

    def grpc_tls_channel(self) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(root_certificates=self.tls.ca_cert.read_bytes())
        return grpc.aio.secure_channel(self.grpc_tls_target, credentials)


class EdgeFactory:
    """Starts Envoys for tests; ``await factory(upstreams, **EdgeSettings overrides)``."""

    def __init__(self, root: Path, tls: DevTls) -> None:
        self.root = root
        self.tls = tls
        self.running: list[RunningEdge] = []

    async def __call__(
        self, upstreams: Sequence[Upstream], site: StaticSite | None = None, **overrides: Any
    ) -> RunningEdge:
        workdir = self.root / f"edge-{next(_edge_numbers)}"
        workdir.mkdir(parents=True, exist_ok=True)
        access_log = workdir / "access.log"
        defaults: dict[str, Any] = {
            "https_port": free_port(),
            "http_port": free_port(),
            "admin_port": free_port(),
            "tls_cert_file": self.tls.cert,
            "tls_key_file": self.tls.key,
            "access_log_path": str(access_log),
            "concurrency": 1,
        }
        settings = dataclasses.replace(EdgeSettings(), **{**defaults, **overrides})
        config_path = workdir / "envoy.yaml"
        envoy_log = workdir / "envoy.log"
        envoy = EnvoyProcess.for_edge(
            settings,
            upstreams,
            config_path=config_path,
            base_id=unique_base_id(),
            log_path=envoy_log,
            file_flush_interval_ms=100,
            site=site,
        )
        edge = RunningEdge(
            settings=settings,
            upstreams=tuple(upstreams),
            tls=self.tls,
            envoy=envoy,
            config_path=config_path,
            access_log=access_log,
            envoy_log=envoy_log,
        )
        await envoy.start()
        self.running.append(edge)
        await envoy.wait_ready(timeout=30)
        return edge

    async def close(self) -> None:
        for edge in reversed(self.running):
            await edge.envoy.stop()
            if edge.envoy.base_id is not None:
                _remove_hot_restart_segment(edge.envoy.base_id)
        self.running.clear()


def edge_tls_of(mesh: Platform, workdir: Path) -> EdgeMeshTls:
    """The edge's mesh certificate for an in-process platform started with ``mesh_tls=True``."""
    tls = mesh.runtime.settings.mesh_tls
    assert tls is not None, "start the platform with mesh_tls=True"
    return edge_mesh_tls(tls, workdir / "edge-sds")


def _remove_hot_restart_segment(base_id: int) -> None:
    """Envoy leaves its (tiny) hot-restart segment behind; test base ids are unique, so
    remove it rather than let /dev/shm collect one per run."""
    Path(f"/dev/shm/envoy_shared_memory_{base_id * 10}").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def dev_tls(tmp_path_factory: pytest.TempPathFactory) -> DevTls:
    return ensure_dev_tls(tmp_path_factory.mktemp("tls"))


# Numbers the work directories of every Envoy of the run (factories come and go per test).
_edge_numbers = itertools.count()


@pytest.fixture(scope="session")
def edge_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("edge")


@pytest.fixture
async def edge_factory(edge_root: Path, dev_tls: DevTls) -> AsyncIterator[EdgeFactory]:
    """Envoys stopped when the test ends."""
    factory = EdgeFactory(edge_root, dev_tls)
    try:
        yield factory
    finally:
        await factory.close()


@pytest.fixture(scope="module")
async def module_edge_factory(edge_root: Path, dev_tls: DevTls) -> AsyncIterator[EdgeFactory]:
    """Envoys stopped when the module ends (for module-scoped fixtures)."""
    factory = EdgeFactory(edge_root, dev_tls)
    try:
        yield factory
    finally:
        await factory.close()


# The `make run` mesh as a process, and an integrator's tokens on it (tests/support/running_mesh.py).
from tests.support.running_mesh import integrator, running_mesh  # noqa: E402, F401
from tests.support.sdk_build import sdk_python, sdk_typescript  # noqa: E402, F401
