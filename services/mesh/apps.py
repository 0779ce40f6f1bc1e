"""The platform services the mesh runner can host, in start order."""

from __future__ import annotations

from services.auth.app import AuthApp
from services.registry.app import RegistryApp
from services.runtime.app import AppFactory
from services.tenants.app import TenantsApp

# Services appear here as they are built; each has a folder under services/.
# Start order matters: the tenants service creates the platform tenant, the
# auth service then bootstraps its administrator and service account; the
# registry follows (it needs both for tenant lookups and its own credentials).
MESH_APPS: dict[str, AppFactory] = {
    "tenants": TenantsApp,
    "auth": AuthApp,
    "registry": RegistryApp,
}

# Internal-only APIs: served by the services, never routed at the edge.
INTERNAL_PACKAGES = frozenset({"tenantmesh.lifecycle.v1"})
# Served by every process; the edge sends it to the first service.
META_PACKAGE = "tenantmesh.meta.v1"
