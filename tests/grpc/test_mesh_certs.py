"""Mesh certificates for deployments without cert-manager (``python -m services.mesh.certs``) and
the container health check that speaks mesh TLS with them (deploy/docker/healthcheck.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.mesh import certs
from services.runtime.mesh_tls import DEFAULT_TRUST_DOMAIN, CertificateFiles, MeshTls, server_credentials
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
HEALTHCHECK = REPO / "deploy" / "docker" / "healthcheck.py"


def files_of(directory: Path, name: str) -> MeshTls:
    own = directory / name
    return MeshTls(DEFAULT_TRUST_DOMAIN, own / "ca.crt", shared=CertificateFiles(own / "tls.crt", own / "tls.key"))


@pytest.fixture
async def tenants_server(tmp_path: Path) -> AsyncIterator[tuple[Path, int]]:
    """A health server on tenants' mesh certificate, as made by the certs command."""
    directory = tmp_path / "mesh-tls"
    assert certs.main([str(directory), "--days", "5"]) == 0
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(files_of(directory, "tenants"), "tenants"))
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    try:
        yield directory, port
    finally:
        await server.stop(None)


async def healthcheck(directory: Path, identity: str, port: int, mesh_name: str, **extra: str) -> int:
    own = directory / identity
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TENANTMESH_")},
        "TENANTMESH_MESH_TLS_CA_FILE": str(own / "ca.crt"),
        "TENANTMESH_MESH_TLS_CERT_FILE": str(own / "tls.crt"),
        "TENANTMESH_MESH_TLS_KEY_FILE": str(own / "tls.key"),
        **extra,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HEALTHCHECK),
        "grpc",
        f"127.0.0.1:{port}",
        "--mesh-name",
        mesh_name,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


async def test_every_identity_gets_its_own_directory_and_a_second_run_keeps_them(tmp_path: Path) -> None:
    directory = tmp_path / "mesh-tls"
    first = certs.issue(directory, certs.identities(), 30, DEFAULT_TRUST_DOMAIN)
    assert first == certs.identities()
    for name in first:
        material = files_of(directory, name).read(name)  # names the identity, key matches
        assert material.ca == (directory / "ca" / "ca.pem").read_bytes()
        assert (directory / name / "tls.key").stat().st_mode & 0o077 == 0
    assert certs.issue(directory, certs.identities(), 30, DEFAULT_TRUST_DOMAIN) == []


async def test_the_container_health_check_speaks_mesh_tls(tenants_server: tuple[Path, int]) -> None:
    directory, port = tenants_server
    # The container checks itself with its own certificate.
    assert await healthcheck(directory, "tenants", port, "tenants") == 0
    # The server's certificate must be the one named: not another service's.
    assert await healthcheck(directory, "tenants", port, "auth") == 1
    # Plaintext is refused by the server.
    assert await healthcheck(directory, "tenants", port, "tenants", TENANTMESH_MESH_TLS="off") == 1


async def test_a_service_without_its_mesh_certificate_does_not_start(tmp_path: Path) -> None:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TENANTMESH_") and k not in ("DATABASE_URL", "REDIS_URL")
        },
        "TENANTMESH_DATA_DIR": str(tmp_path),
        "TENANTMESH_LOG_LEVEL": "error",
        "TENANTMESH_TENANTS_ADDR": f"127.0.0.1:{free_port()}",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.mesh",
        "serve",
        "tenants",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 2, err.decode()
    assert "configuration error: cannot read mesh TLS file" in err.decode()
    assert "ca.pem" in err.decode()
    assert "Traceback" not in err.decode()  # nothing was started that would have to be stopped
