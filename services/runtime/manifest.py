"""The shape of the service manifest: which platform services exist, and what each one is.

The platform's own list is ``services/manifest.py``; everything that needs to
know the services reads it: configuration (addresses and ports), the mesh
runner and the one entry point (which app to start), the edge (which proto
packages go to which upstream), the auth service (the permissions built-in
roles are made of), tenant provisioning (who takes part) and the deploy files,
which are generated from it (``python -m services.mesh.deploy``). Adding a
service is adding a line there.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.runtime.app import AppFactory

_NAME = re.compile(r"[a-z][a-z0-9]{1,20}")
_APP = re.compile(r"[a-z_][a-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Deployment:
    """How a container of the service is described in deploy/ (only what differs between services)."""

    # What the service does, for the comments of its deploy files.
    summary: str = ""
    cpu_request: str = "250m"
    memory_request: str = "256Mi"
    memory_limit: str = "512Mi"
    # Why the limits are what they are, when that is not obvious.
    resources_note: str = ""
    max_replicas: int = 6
    # Kubernetes Secrets only this service gets, besides the shared tenantmesh-secrets.
    secrets: tuple[str, ...] = ()
    # docker compose: the service's own variables (name, value as compose interpolates it).
    compose_environment: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ServiceSpec:
    """One platform service."""

    name: str
    # Where it listens unless TENANTMESH_<NAME>_ADDR says otherwise.
    port: int
    # "module:Class" of its ServiceApp; None for a service that is not built yet (its name and
    # port are reserved).
    app: str | None = None
    # Proto packages of its public API: routed at the edge, and the permissions of their RPCs
    # make up the built-in roles. Internal packages (tenantmesh.lifecycle.v1) are not listed.
    api: tuple[str, ...] = ()
    # Keeps data in tenant databases: every tenant is provisioned in it (the lifecycle API).
    tenant_scoped: bool = False
    # Runs only where Redis does: a process without REDIS_URL does not start it.
    needs_redis: bool = False
    deploy: Deployment = field(default_factory=Deployment)

    def __post_init__(self) -> None:
        if _NAME.fullmatch(self.name) is None:
            raise ValueError(f"service name {self.name!r}: lowercase letters and digits, 2-21 characters")
        if not 0 < self.port < 65536:
            raise ValueError(f"service {self.name}: port {self.port} is not a TCP port")
        if self.app is not None and _APP.fullmatch(self.app) is None:
            raise ValueError(f"service {self.name}: app must be 'module:Class', got {self.app!r}")
        if self.app is None and (self.api or self.tenant_scoped):
            raise ValueError(f"service {self.name}: a service without an app serves nothing")

    @property
    def built(self) -> bool:
        return self.app is not None

    @property
    def address_variable(self) -> str:
        return f"TENANTMESH_{self.name.upper()}_ADDR"

    def load_app(self) -> AppFactory:
        """The service's app class (imported now: only the mesh and the entry point need it)."""
        if self.app is None:
            raise LookupError(f"service {self.name} is not built yet")
        module, _, attribute = self.app.partition(":")
        factory: AppFactory = getattr(importlib.import_module(module), attribute)
        return factory


@dataclass(frozen=True)
class Manifest:
    """Every platform service, in start order (the tenants service first: the others need tenants)."""

    services: tuple[ServiceSpec, ...]

    def __post_init__(self) -> None:
        for attribute in ("name", "port"):
            values = [getattr(s, attribute) for s in self.services]
            if len(set(values)) != len(values):
                raise ValueError(f"service {attribute}s must be unique: {values}")
        packages = [p for s in self.services for p in s.api]
        if len(set(packages)) != len(packages):
            raise ValueError(f"an API package belongs to one service: {packages}")

    def __iter__(self) -> Iterator[ServiceSpec]:
        return iter(self.services)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    @property
    def built(self) -> tuple[ServiceSpec, ...]:
        return tuple(s for s in self.services if s.built)

    def hosted(self, *, redis: bool) -> tuple[ServiceSpec, ...]:
        """The built services a mesh starts, with Redis configured or not."""
        return tuple(s for s in self.built if redis or not s.needs_redis)

    @property
    def tenant_scoped(self) -> tuple[str, ...]:
        """The services a tenant is provisioned in, in order."""
        return tuple(s.name for s in self.services if s.tenant_scoped)

    def get(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise LookupError(f"no service {name!r} in the manifest; known: {list(self.names)}")

    def owner_of(self, package: str) -> ServiceSpec | None:
        """The service whose public API ``package`` is."""
        return next((s for s in self.services if package in s.api), None)

    def with_services(self, *extra: ServiceSpec) -> Manifest:
        """This manifest and ``extra`` after it (a test's own services, say)."""
        return Manifest((*self.services, *extra))

    def api_services(self) -> list[str]:
        """Full names of every gRPC service of every built service's public API."""
        return [name for spec in self.built for package in spec.api for name in package_services(package)]


@cache
def package_services(package: str) -> tuple[str, ...]:
    """The gRPC services a generated proto package defines (its ``*_pb2`` modules are imported)."""
    found: list[str] = []
    module: Any = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.endswith("_pb2"):
            generated: Any = importlib.import_module(f"{package}.{info.name}")
            found += [service.full_name for service in generated.DESCRIPTOR.services_by_name.values()]
    return tuple(sorted(found))
