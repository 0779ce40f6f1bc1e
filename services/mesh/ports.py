"""Ports `make run` needs, checked before anything starts.

A second `make run` (or anything else on a default port) used to end in a traceback from
deep inside a server's start. Each port is tried first, and the first one taken is named
in one line with the variable that moves it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

from services.mesh.edge import EdgeSettings
from services.runtime.config import Settings


@dataclass(frozen=True)
class Port:
    host: str
    port: int
    what: str  # "the edge's HTTPS listener", "the auth service"
    variable: str  # what moves it


def mesh_ports(settings: Settings, edge: EdgeSettings) -> list[Port]:
    ports = [
        Port(edge.bind_address, edge.https_port, "the edge's HTTPS listener", "TENANTMESH_EDGE_HTTPS_PORT"),
        Port(edge.bind_address, edge.http_port, "the edge's HTTP listener", "TENANTMESH_EDGE_HTTP_PORT"),
        Port("127.0.0.1", edge.admin_port, "the edge's admin interface", "TENANTMESH_EDGE_ADMIN_PORT"),
    ]
    for spec in settings.manifest.hosted(redis=settings.redis_url is not None):
        host, _, port = settings.address_of(spec.name).rpartition(":")
        ports.append(Port(host or "127.0.0.1", int(port), f"the {spec.name} service", spec.address_variable))
    return ports


def _taken(port: Port) -> bool:
    family = socket.AF_INET6 if ":" in port.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # No SO_REUSEADDR: a port another process listens on must fail here as it would later.
        try:
            probe.bind((port.host.strip("[]"), port.port))
        except OSError:
            return True
    return False


def first_taken(ports: Iterable[Port]) -> str | None:
    """One line naming the first port in use and how to move it, or None when all are free."""
    for port in ports:
        if port.port and _taken(port):
            value = "port" if port.variable.endswith("_PORT") else "address (host:port)"
            return (
                f"port {port.port} on {port.host} ({port.what}) is in use; is another `make run` running? "
                f"Stop it, or set {port.variable} to a free {value}."
            )
    return None
