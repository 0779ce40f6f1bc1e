"""The start-up port check: every port `make run` would bind, the metrics endpoint's included.

Binds sockets on 127.0.0.1 (nothing else): a port is taken by listening on it here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.mesh.edge import EdgeSettings
from services.mesh.ports import first_taken, mesh_ports
from services.runtime.config import Settings, load_settings
from tests.support.ports import free_port


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def settings_on_free_ports(tmp_path: Path, **env: str) -> tuple[Settings, EdgeSettings]:
    probe = load_settings({"TENANTMESH_DATA_DIR": str(tmp_path)})
    addresses = {spec.address_variable: f"127.0.0.1:{free_port()}" for spec in probe.manifest.built}
    settings = load_settings({"TENANTMESH_DATA_DIR": str(tmp_path), **addresses, **env})
    edge = EdgeSettings(https_port=free_port(), http_port=free_port(), admin_port=free_port())
    return settings, edge


def test_a_busy_metrics_port_is_named_in_one_line_with_the_variable_that_moves_it(
    tmp_path: Path, listening: int
) -> None:
    settings, edge = settings_on_free_ports(tmp_path, TENANTMESH_METRICS_PORT=str(listening))
    message = first_taken(mesh_ports(settings, edge))
    assert message is not None
    assert "\n" not in message
    assert f"port {listening} " in message
    assert "metrics" in message
    assert "TENANTMESH_METRICS_PORT" in message


def test_free_ports_pass_and_a_metrics_endpoint_that_is_off_is_not_checked(tmp_path: Path, listening: int) -> None:
    settings, edge = settings_on_free_ports(tmp_path, TENANTMESH_METRICS_PORT=str(free_port()))
    assert first_taken(mesh_ports(settings, edge)) is None
    settings, edge = settings_on_free_ports(tmp_path, TENANTMESH_METRICS_PORT="off")
    assert all(port.variable != "TENANTMESH_METRICS_PORT" for port in mesh_ports(settings, edge))
