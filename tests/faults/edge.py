"""Envoy in front of the fault platform, as production runs it: the load goes through the edge.

The edge is an ordinary process the test can stop and start again on the same ports, as an
operator restarting it (or its container being replaced) would; the services behind it keep
running.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.mesh.devtls import ensure_dev_tls
from services.mesh.edge.config import EdgeSettings, Upstream
from services.mesh.envoy_process import EnvoyProcess
from tests.faults.load import Targets
from tests.faults.platform import FaultPlatform
from tests.support.ports import free_port

# No hot restart: a plain stop and start, and no shared-memory segment left behind.
_ENVOY_FLAGS = ("--disable-hot-restart",)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _upstream(name: str, addresses: Sequence[str], packages: tuple[str, ...]) -> Upstream:
    (host, port), *replicas = (_host_port(address) for address in addresses)
    return Upstream(name=name, host=host, port=port, packages=packages, replicas=tuple(replicas))


@dataclass
class FaultEdge:
    settings: EdgeSettings
    upstreams: tuple[Upstream, ...]
    workdir: Path
    envoy: EnvoyProcess | None = None
    starts: int = 0

    @property
    def grpc_target(self) -> str:
        """The plain (h2c) listener: gRPC clients of the load connect here."""
        return f"127.0.0.1:{self.settings.http_port}"

    async def start(self) -> None:
        """A new Envoy process on the edge's ports; returns once it routes and checks tokens."""
        self.starts += 1
        self.envoy = EnvoyProcess.for_edge(
            self.settings,
            self.upstreams,
            config_path=self.workdir / "envoy.yaml",
            base_id=None,
            log_path=self.workdir / f"envoy-{self.starts}.log",
            extra_args=_ENVOY_FLAGS,
        )
        await self.envoy.start()
        await self.envoy.wait_ready(timeout=30)
        await self.envoy.wait_for_jwks(timeout=30)

    async def host_health(self, cluster: str) -> dict[str, str]:
        """Envoy's health flags of each host of ``cluster`` ("healthy", or e.g.
        "/failed_active_hc/failed_outlier_check"), by host:port."""
        assert self.envoy is not None, "the edge is not running"
        _, text = await self.envoy.admin_get("/clusters")
        flags = {}
        for line in text.splitlines():
            name, _, rest = line.partition("::")
            host, _, stat = rest.partition("::")
            if name == cluster and stat.startswith("health_flags::"):
                flags[host] = stat.removeprefix("health_flags::")
        return flags

    async def stop(self) -> None:
        if self.envoy is not None:
            await self.envoy.stop()
            self.envoy = None


@contextlib.asynccontextmanager
async def fault_edge(
    platform: FaultPlatform, workdir: Path, public_url: str, replicas: Mapping[str, Sequence[str]] | None = None
) -> AsyncIterator[FaultEdge]:
    """An Envoy routing to the platform's tenants and auth processes, and its registry and forms
    when it runs them (and, per upstream name, the addresses of further ``replicas``); stopped on
    exit."""
    more = dict(replicas or {})
    tls = ensure_dev_tls(workdir / "tls")
    settings = dataclasses.replace(
        EdgeSettings(),
        https_port=free_port(),
        http_port=free_port(),
        admin_port=free_port(),
        tls_cert_file=tls.cert,
        tls_key_file=tls.key,
        access_log_path=str(workdir / "access.log"),
        public_url=public_url,
    )
    upstreams: tuple[Upstream, ...] = (
        _upstream(
            "tenants",
            [platform.tenants.address, *more.get("tenants", ())],
            ("tenantmesh.meta.v1", "tenantmesh.tenants.v1"),
        ),
        _upstream("auth", [platform.auth.address, *more.get("auth", ())], ("tenantmesh.auth.v1",)),
    )
    for name, process, package in (
        ("registry", platform.registry, "tenantmesh.registry.v1"),
        ("forms", platform.forms, "tenantmesh.forms.v1"),
    ):
        if process is not None:
            upstreams += (_upstream(name, [process.address, *more.get(name, ())], (package,)),)
    edge = FaultEdge(settings=settings, upstreams=upstreams, workdir=workdir)
    try:
        await edge.start()
        yield edge
    finally:
        await edge.stop()


def edge_channel(edge: FaultEdge) -> grpc.aio.Channel:
    """A client channel to the edge that reconnects quickly once the edge is back: gRPC's
    default reconnect backoff grows to two minutes, longer than any client here would wait."""
    return grpc.aio.insecure_channel(
        edge.grpc_target,
        options=[
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ],
    )


@contextlib.asynccontextmanager
async def load_targets(platform: FaultPlatform, edge: FaultEdge) -> AsyncIterator[Targets]:
    """The platform's load targets with every service reached through the edge, one channel
    each as SDK clients hold them; the channels are closed on exit."""
    channels: list[grpc.aio.Channel] = []

    def through_edge() -> grpc.aio.Channel:
        channels.append(edge_channel(edge))
        return channels[-1]

    services = platform.targets.services
    try:
        yield dataclasses.replace(
            platform.targets,
            tenants_channel=through_edge(),
            auth_channel=through_edge(),
            services=None
            if services is None
            else dataclasses.replace(services, registry_channel=through_edge(), forms_channel=through_edge()),
        )
    finally:
        for channel in channels:
            await channel.close()
