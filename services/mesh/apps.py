"""The platform services a process hosts: the built services of the manifest, in start order."""

from __future__ import annotations

from services.runtime.app import App, Runtime, StartedApp, start_app
from services.runtime.context import acting_service_var
from services.runtime.manifest import ServiceSpec

# Envoy's rate limit service API: the edge's ratelimit filter calls it, nobody routes to it.
RATE_LIMIT_PACKAGE = "envoy.service.ratelimit.v3"
# Internal-only APIs: served by the services, never routed at the edge.
INTERNAL_PACKAGES = frozenset({"tenantmesh.lifecycle.v1", RATE_LIMIT_PACKAGE})
# Served by every process; the edge sends it to the first service.
META_PACKAGE = "tenantmesh.meta.v1"


def build_app(spec: ServiceSpec, runtime: Runtime) -> App:
    # Channels the app makes while it is built (its tenant directory's) present its certificate.
    runtime.identity = runtime.identity or spec.name
    acting = acting_service_var.set(spec.name)
    try:
        app = spec.load_app()(runtime)
    finally:
        acting_service_var.reset(acting)
    if app.name != spec.name:
        raise RuntimeError(f"the manifest's {spec.name!r} names {spec.app}, whose name is {app.name!r}")
    return app


async def start_service(spec: ServiceSpec, runtime: Runtime, address: str) -> StartedApp:
    """Builds the service's app and serves it on ``address``."""
    return await start_app(build_app(spec, runtime), runtime, address)
