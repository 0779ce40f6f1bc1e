"""The mesh runner: every service in one process, Envoy as its child.

This is `make run`: the embedded default needs no database server (SQLite
files under the data directory) and no Redis (in-process events). With
DATABASE_URL / REDIS_URL set, the same runner uses MySQL/MariaDB and Redis.
Envoy dies with this process (PR_SET_PDEATHSIG), so the runner stays in the
foreground until SIGINT/SIGTERM, then stops Envoy, drains the servers and
closes connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Sequence

from services.auth.app import AuthApp
from services.mesh.apps import INTERNAL_PACKAGES, RATE_LIMIT_PACKAGE, start_service
from services.mesh.banner import AdminLogin, banner
from services.mesh.console_site import console_pages
from services.mesh.dev_mesh_tls import RENEW_CHECK_SECONDS, ensure_dev_mesh_tls
from services.mesh.devtls import ensure_dev_tls
from services.mesh.edge import EdgeSettings, Upstream, edge_mesh_tls
from services.mesh.edge.routes import META_PACKAGE
from services.mesh.envoy_process import EnvoyProcess
from services.mesh.ports import first_taken, mesh_ports
from services.mesh.settings import load_edge_settings, load_global_rate_limit, uses_dev_tls
from services.mesh.static_site import StaticServer, StaticSite, docs_pages
from services.runtime.app import Runtime, StartedApp, shutdown_event, stop_apps
from services.runtime.config import ConfigError, Settings, load_settings
from services.runtime.heap import settle_after_startup
from services.runtime.logging import configure_logging
from services.runtime.mesh_tls import EDGE, TENANTCTL, MeshTls, MeshTlsError
from services.runtime.private_files import private_directory
from services.runtime.telemetry.endpoint import MetricsEndpoint
from services.runtime.telemetry.settings import load_metrics_settings

log = logging.getLogger("tenantmesh.mesh")


def upstreams_for(started: Sequence[StartedApp], settings: Settings) -> list[Upstream]:
    """The services the edge routes to (those serving a public API), each an upstream."""
    upstreams = []
    for index, item in enumerate(started):
        packages = {name.rsplit(".", 1)[0] for name in item.server.service_names}
        packages -= INTERNAL_PACKAGES
        if index == 0:
            packages.add(META_PACKAGE)
        else:
            packages.discard(META_PACKAGE)
        if not packages:
            continue
        host = settings.address_of(item.app.name).rsplit(":", 1)[0]
        upstreams.append(
            Upstream(name=item.app.name, host=host, port=item.server.port, packages=tuple(sorted(packages)))
        )
    return upstreams


async def _configured() -> tuple[Settings, EdgeSettings, bool] | str:
    """The mesh's and the edge's settings (with development mesh certificates made), whether the
    edge uses the development TLS certificate, or the one line that says why the mesh cannot start."""
    try:
        settings = load_settings()
        dev_tls = uses_dev_tls()
        edge = load_edge_settings(tls_dir=settings.data_dir / "tls" if dev_tls else None)
    except ConfigError as exc:
        return f"configuration error: {exc}"
    taken = first_taken(mesh_ports(settings, edge))
    if taken is not None:
        return taken
    configure_logging(settings.log_level, settings.log_format)
    try:
        edge = await prepare_dev_mesh_tls(settings, edge)
    except ConfigError as exc:
        return f"configuration error: {exc}"
    return settings, edge, dev_tls


def _start_static_site() -> tuple[StaticServer, bool]:
    """/openapi.json, /docs and the console: a loopback server only the edge talks to."""
    pages = docs_pages()
    if "/docs" not in pages:
        log.warning("swagger-ui-dist is not installed (npm ci): /docs is not served, /openapi.json is")
    console = console_pages()
    if not console:
        log.warning("the web console is not built (make console): it is not served")
    return StaticServer(pages | console).start(), bool(console)


async def run_mesh() -> int:
    configured = await _configured()
    if isinstance(configured, str):
        print(configured, file=sys.stderr)
        return 2
    settings, edge, dev_tls = configured
    stop = shutdown_event()
    runtime = await Runtime.open(settings)
    started: list[StartedApp] = []
    envoy: EnvoyProcess | None = None
    static: StaticServer | None = None
    renewer = (
        asyncio.create_task(renew_dev_mesh_tls(settings.mesh_tls, mesh_identities(settings)))
        if settings.mesh_tls is not None
        else None
    )
    metrics: MetricsEndpoint | None = None
    try:
        metrics = MetricsEndpoint.start(load_metrics_settings(settings.environment), runtime.metrics)
        for spec in settings.manifest.hosted(redis=settings.redis_url is not None):
            started.append(await start_service(spec, runtime, settings.address_of(spec.name)))
        edge = with_global_rate_limit(edge, started, settings)
        ca_file = ensure_dev_tls(settings.data_dir / "tls").ca_cert if dev_tls else None
        static, console = _start_static_site()
        envoy = await start_edge(edge, upstreams_for(started, settings), settings, static.site(console=console))
        settle_after_startup()
        metrics_url = metrics.url if metrics is not None else None
        names = [s.app.name for s in started]
        print(
            banner(settings, edge, ca_file, names, admin_login(started), console, metrics_url),
            flush=True,
        )
        await stop.wait()
        print("\nstopping…", flush=True)
        return 0
    finally:
        if renewer is not None:
            renewer.cancel()
        if envoy is not None:
            await envoy.stop()
        if static is not None:
            static.stop()
        with contextlib.suppress(Exception):
            await stop_apps(started, settings.shutdown_grace_seconds)
        await runtime.close()
        if metrics is not None:
            metrics.stop()


def with_global_rate_limit(edge: EdgeSettings, started: Sequence[StartedApp], settings: Settings) -> EdgeSettings:
    """The edge asking the rate limit service, when this mesh runs it (with Redis); else the edge's
    own per-instance limits stay. Raises ConfigError."""
    for item in started:
        if RATE_LIMIT_PACKAGE in {name.rsplit(".", 1)[0] for name in item.server.service_names}:
            host = settings.address_of(item.app.name).rsplit(":", 1)[0]
            limit = load_global_rate_limit(settings.environment, item.app.name, host, item.server.port)
            return dataclasses.replace(edge, global_rate_limit=limit)
    return edge


async def prepare_dev_mesh_tls(settings: Settings, edge: EdgeSettings) -> EdgeSettings:
    """Development certificates for every identity of the embedded mesh, and the edge settings
    that present the edge's (unchanged with mesh TLS off)."""
    mesh_tls = settings.mesh_tls
    if mesh_tls is None:
        return edge
    if mesh_tls.directory is None:
        raise ConfigError(
            "make run serves every service in one process, each with its own certificate: "
            "use TENANTMESH_MESH_TLS=dev (the default) or off, not one certificate file"
        )
    await asyncio.to_thread(ensure_dev_mesh_tls, mesh_tls, mesh_identities(settings))
    return dataclasses.replace(edge, mesh_tls=edge_mesh_tls(mesh_tls, settings.data_dir / "envoy" / "sds"))


def mesh_identities(settings: Settings) -> list[str]:
    """Who gets a development certificate: every built service, the edge, and tenantctl (an
    operator's tool that calls the services directly)."""
    return [*(spec.name for spec in settings.manifest.built), EDGE, TENANTCTL]


async def renew_dev_mesh_tls(tls: MeshTls, names: Sequence[str]) -> None:
    """Re-issues development certificates before they expire, while the mesh runs: servers,
    channels and Envoy pick the new files up at their next connection."""
    while True:
        await asyncio.sleep(RENEW_CHECK_SECONDS)
        try:
            renewed = await asyncio.to_thread(ensure_dev_mesh_tls, tls, names)
        except (OSError, RuntimeError) as exc:
            log.warning("could not renew the mesh certificates: %s", exc)
            continue
        if renewed:
            log.info("renewed mesh certificates", extra={"identities": renewed})


def admin_login(started: Sequence[StartedApp]) -> AdminLogin | None:
    for item in started:
        if isinstance(item.app, AuthApp) and item.app.bootstrap_result is not None:
            result = item.app.bootstrap_result
            return AdminLogin(result.admin_email, result.generated_admin_password, result.admin_password_ignored)
    return None


async def start_edge(
    edge: EdgeSettings, upstreams: list[Upstream], settings: Settings, site: StaticSite | None = None
) -> EnvoyProcess:
    envoy_dir = settings.data_dir / "envoy"
    private_directory(envoy_dir)
    envoy = EnvoyProcess.for_edge(
        edge,
        upstreams,
        config_path=envoy_dir / "envoy.yaml",
        # Envoy picks a free base id: the mesh never hot-restarts, and two meshes (or a
        # mesh and a test run) on one machine must not share its shared-memory region.
        base_id=None,
        log_path=envoy_dir / "envoy.log",
        site=site,
    )
    await envoy.start()
    await envoy.wait_ready(timeout=30)
    await envoy.wait_for_jwks(timeout=30)
    return envoy


async def serve(service: str) -> int:
    """One service in this process until SIGTERM/SIGINT: how production runs each service."""
    try:
        settings = load_settings()
        spec = settings.manifest.get(service)
        if not spec.built:
            raise ConfigError(f"service {service} is not built yet")
    except (ConfigError, LookupError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    runtime = await Runtime.open(settings, process_name=service)
    started: list[StartedApp] = []
    metrics: MetricsEndpoint | None = None
    try:
        metrics = MetricsEndpoint.start(load_metrics_settings(settings.environment), runtime.metrics)
        stop = shutdown_event()
        address = f"{settings.bind_host}:{settings.port_of(service)}"
        try:
            started.append(await start_service(spec, runtime, address))
        except (MeshTlsError, ConfigError) as exc:  # ConfigError: the rate limit service without Redis, say
            print(f"configuration error: {exc}", file=sys.stderr)
            return 2
        settle_after_startup()
        log.info("%s ready on %s", service, address)
        await stop.wait()
        return 0
    finally:
        with contextlib.suppress(Exception):
            await stop_apps(started, settings.shutdown_grace_seconds)
        await runtime.close()
        if metrics is not None:
            metrics.stop()
