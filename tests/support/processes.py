"""Platform services as separate operating-system processes, as in production.

Each service runs as ``python -m services.mesh serve <name>`` with its own environment
(own data directory, own port), sharing what a real deployment shares: the
core database, Redis, the platform service account's API key and the key
encryption key. A process is ready when its gRPC health service answers
SERVING; at teardown it gets SIGTERM, then SIGKILL if it does not exit, and
is always reaped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.mesh import certs
from services.runtime.mesh_tls import DEFAULT_TRUST_DOMAIN, CertificateFiles, MeshTls
from tests.support.mesh import RUN_TENANT_DB_PREFIX
from tests.support.mesh_tls import TESTER, mesh_channel
from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
# Variables of the developer's shell that must not leak into a test's processes.
_OWN_VARIABLES = ("DATABASE_URL", "REDIS_URL")
_OWN_PREFIX = "TENANTMESH_"


def new_service_api_key() -> str:
    return f"tmk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def new_key_encryption_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class ServiceProcess:
    service: str
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]
    # With mesh TLS: the test's own certificate (tests/support/mesh_tls.py) from the processes' CA.
    client_tls: MeshTls | None = None
    # The service's name, which its certificate is issued for (an instance may be named otherwise).
    mesh_name: str = ""
    channel: grpc.aio.Channel = field(init=False)

    def __post_init__(self) -> None:
        if self.client_tls is None:
            self.channel = grpc.aio.insecure_channel(self.address)
        else:
            self.channel = mesh_channel(self.client_tls, self.address, self.mesh_name or self.service)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_serving(self, within_seconds: float = 30.0) -> None:
        """Until the gRPC health service says SERVING; fails with the process's log otherwise."""
        stub: Any = health_pb2_grpc.HealthStub(self.channel)
        deadline = time.monotonic() + within_seconds
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.service} exited with {self.process.returncode} before serving:\n{self.log_tail()}"
                )
            try:
                response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.service} not SERVING on {self.address} after {within_seconds}s:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.05)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds``; always reaps the process and closes the log."""
        await self.channel.close()
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(self.process.wait, grace_seconds)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            await asyncio.to_thread(self.process.wait, grace_seconds)
        finally:
            self._log.close()


@dataclass
class ProcessMesh:
    """Services of one platform, each in its own process; shared configuration in ``base_env``."""

    base_env: dict[str, str]
    root: Path
    addresses: dict[str, str]
    processes: list[ServiceProcess] = field(default_factory=list)
    # Mesh TLS in production's layout: one directory per identity (python -m services.mesh.certs).
    certificates: Path | None = None

    def spawn(
        self, service: str, instance: str | None = None, extra_env: Mapping[str, str] | None = None
    ) -> ServiceProcess:
        """Starts ``python -m services.<service>`` without waiting for it.

        The first instance of a service gets the address the others are told
        about; further instances (``instance`` names them) get a port of their own.
        """
        name = instance or service
        address = self.addresses[service] if instance is None else f"127.0.0.1:{free_port()}"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_OWN_PREFIX) and key not in _OWN_VARIABLES
        }
        env.update(self.base_env)
        env["TENANTMESH_DATA_DIR"] = str(self.root / name)
        env[f"TENANTMESH_{service.upper()}_ADDR"] = address
        client_tls = None
        if self.certificates is not None:
            own = self.certificates / service
            env["TENANTMESH_MESH_TLS_CA_FILE"] = str(own / "ca.crt")
            env["TENANTMESH_MESH_TLS_CERT_FILE"] = str(own / "tls.crt")
            env["TENANTMESH_MESH_TLS_KEY_FILE"] = str(own / "tls.key")
            tester = self.certificates / TESTER
            client_tls = MeshTls(
                DEFAULT_TRUST_DOMAIN, tester / "ca.crt", shared=CertificateFiles(tester / "tls.crt", tester / "tls.key")
            )
        env.update(extra_env or {})
        log_path = self.root / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "services.mesh", "serve", service],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started = ServiceProcess(
            service=name,
            address=address,
            process=process,
            log_path=log_path,
            _log=log,
            client_tls=client_tls,
            mesh_name=service,
        )
        self.processes.append(started)
        return started

    async def start(self, service: str, instance: str | None = None) -> ServiceProcess:
        started = self.spawn(service, instance)
        await started.wait_serving()
        return started

    async def stop_all(self) -> None:
        # All at once: each takes a second or so to stop (its event readers finish their blocking
        # read), and nothing of one's shutdown waits for another (a deregistration that finds the
        # registry gone is best effort and bounded). Every process is reaped whatever the others do.
        results = await asyncio.gather(
            *(started.stop() for started in reversed(self.processes)), return_exceptions=True
        )
        self.processes.clear()
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            raise errors[0]


@contextlib.asynccontextmanager
async def process_mesh(
    database_url: str,
    redis_url: str,
    root: Path,
    *,
    admin_email: str,
    admin_password: str,
    env: Mapping[str, str] | None = None,
    mesh_tls: bool = False,
    services: Sequence[str] = ("tenants", "auth"),
) -> AsyncIterator[ProcessMesh]:
    """Configuration for processes of ``services`` (by default tenants and auth) on one database
    and one Redis; stops them all on exit.

    ``mesh_tls``: every process gets its own certificate as production does (files mode, one
    directory per identity made by ``python -m services.mesh.certs``); otherwise plaintext."""
    addresses = {service: f"127.0.0.1:{free_port()}" for service in services}
    base_env = {
        "DATABASE_URL": database_url,
        "TENANTMESH_TENANT_DB_PREFIX": RUN_TENANT_DB_PREFIX,
        "REDIS_URL": redis_url,
        **{f"TENANTMESH_{service.upper()}_ADDR": address for service, address in addresses.items()},
        "TENANTMESH_SERVICE_API_KEY": new_service_api_key(),
        "TENANTMESH_KEY_ENCRYPTION_KEY": new_key_encryption_key(),
        "TENANTMESH_ADMIN_EMAIL": admin_email,
        "TENANTMESH_ADMIN_PASSWORD": admin_password,
        "TENANTMESH_LOG_LEVEL": "warning",
        "TENANTMESH_LOG_FORMAT": "text",
        "TENANTMESH_SHUTDOWN_GRACE_SECONDS": "1",
        # Discovery only with a registry of the mesh's own: without one a process would ask
        # whatever registry answers at the default address (another mesh on this machine) and
        # call that mesh's services.
        "TENANTMESH_DISCOVERY": "on" if "registry" in addresses else "off",
        # The background reconciler has nothing to do in these tests.
        "TENANTMESH_RECONCILE_INTERVAL_SECONDS": "3600",
        # Plaintext between the processes unless mesh_tls (tests/grpc/test_mesh_tls*).
        "TENANTMESH_MESH_TLS": "off",
        # Each process's metrics endpoint on a free port: several processes share this host.
        "TENANTMESH_METRICS_PORT": "0",
        # Tenants are provisioned in the tenants service alone: forms and menus run in no process here.
        "TENANTMESH_LIFECYCLE_SERVICES": "tenants",
        **dict(env or {}),
    }
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    certificates = None
    if mesh_tls:
        certificates = root / "mesh-tls"
        base_env.pop("TENANTMESH_MESH_TLS")
        await asyncio.to_thread(certs.issue, certificates, [*certs.identities(), TESTER], 2, DEFAULT_TRUST_DOMAIN)
    mesh = ProcessMesh(base_env=base_env, root=root, addresses=addresses, certificates=certificates)
    try:
        yield mesh
    finally:
        await mesh.stop_all()
