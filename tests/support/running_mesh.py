"""``make run`` as a test fixture: ``python -m services.mesh run`` in a real process.

The embedded default (SQLite, in-process events) on free ports with a data directory
of the test's own, so it runs beside a developer's mesh. It is what the README tells
integrators to start, so the SDK, conformance and fuzzing tests talk to exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from services.manifest import PLATFORM
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
ADMIN_EMAIL = "admin@tenantmesh.local"
PLATFORM_TENANT = "platform"


def mesh_environment(
    data_dir: Path, https_port: int, http_port: int, admin_port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    # The embedded default: no database or Redis configured, whatever the caller's shell has.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TENANTMESH_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "TENANTMESH_DATA_DIR": str(data_dir),
            "TENANTMESH_LOG_LEVEL": "warning",
            "TENANTMESH_EDGE_HTTPS_PORT": str(https_port),
            "TENANTMESH_EDGE_HTTP_PORT": str(http_port),
            "TENANTMESH_EDGE_ADMIN_PORT": str(admin_port),
            "TENANTMESH_METRICS_PORT": "0",
        }
    )
    for spec in PLATFORM:
        env[spec.address_variable] = f"127.0.0.1:{free_port()}"
    env.update(extra or {})
    return env


def read_output(output: Path) -> str:
    # Small, local and read while the process runs: a blocking read is fine here.
    return output.read_text(errors="replace")


async def wait_for_banner(proc: asyncio.subprocess.Process, output: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = read_output(output)
        if READY_LINE in text:
            return text
        if proc.returncode is not None:
            raise AssertionError(f"the mesh exited with {proc.returncode} before it was up:\n{text}")
        await asyncio.sleep(0.25)
    raise AssertionError(f"the mesh was not up within {START_TIMEOUT_S} s:\n{read_output(output)}")


def banner_value(banner: str, label: str) -> str:
    match = re.search(rf"^\s*{re.escape(label)}\s+(\S+)", banner, re.MULTILINE)
    assert match is not None, f"no {label!r} in the banner:\n{banner}"
    return match.group(1)


@dataclass
class MeshProcess:
    """A started ``python -m services.mesh run``."""

    proc: asyncio.subprocess.Process
    output: Path
    banner: str
    data_dir: Path
    https_port: int
    http_port: int
    admin_port: int
    # The environment it runs with (tools such as tenantctl reach its services with it).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def https_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_tls_target(self) -> str:
        return f"localhost:{self.https_port}"

    @property
    def ca_file(self) -> Path:
        return Path(banner_value(self.banner, "dev CA certificate"))

    @property
    def admin_password(self) -> str:
        return banner_value(self.banner, "admin password")

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        """REST over TLS, trusting only the dev CA."""
        return httpx.AsyncClient(base_url=self.https_url, verify=self.ssl_context(), timeout=30, **kwargs)  # type: ignore[arg-type]

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        return await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT_S)


@contextlib.asynccontextmanager
async def mesh_process(root: Path, extra_env: Mapping[str, str] | None = None) -> AsyncIterator[MeshProcess]:
    """Starts the mesh under ``root`` and stops it (SIGINT, then kill) on exit."""
    https_port, http_port, admin_port = free_port(), free_port(), free_port()
    data_dir = root / "data"
    env = mesh_environment(data_dir, https_port, http_port, admin_port, extra_env)
    # A file, not a pipe: the banner is read while the process runs, and a pipe nobody
    # drains could fill up and block it.
    with tempfile.NamedTemporaryFile(dir=root, suffix=".out", delete=False) as out:
        output = Path(out.name)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.mesh",
            "run",
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        banner = await wait_for_banner(proc, output)
        yield MeshProcess(proc, output, banner, data_dir, https_port, http_port, admin_port, env)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


@dataclass
class Integrator:
    """What an integrator has after `make run`: the edge, the dev CA, a platform admin's token,
    and a tenant of its own with a tenant administrator and that administrator's token."""

    mesh: MeshProcess
    admin_token: str
    tenant_id: str
    tenant_slug: str
    tenant_admin_email: str
    tenant_admin_password: str
    tenant_admin_token: str
    # A service account of the tenant with no role: a valid token that carries no permission.
    no_role_token: str

    def headers(self, token: str, tenant_id: str | None = None) -> dict[str, str]:
        headers = {"authorization": f"Bearer {token}"}
        if tenant_id:
            headers["x-tenant-id"] = tenant_id
        return headers


async def login(client: httpx.AsyncClient, tenant: str, email: str, password: str) -> str:
    response = await client.post("/v1/auth:login", json={"tenant": tenant, "email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["tokens"]["accessToken"]
    return token


async def prepare_integrator(mesh: MeshProcess) -> Integrator:
    """A platform admin token, a fresh tenant, a tenant admin in it and their token (all over REST)."""
    slug = f"int-{uuid.uuid4().hex[:8]}"
    email = f"owner@{slug}.example"
    password = f"pw-{uuid.uuid4().hex}"
    async with mesh.client() as client:
        admin = await login(client, PLATFORM_TENANT, ADMIN_EMAIL, mesh.admin_password)
        auth = {"authorization": f"Bearer {admin}"}
        created = await client.post("/v1/tenants", json={"slug": slug, "displayName": slug}, headers=auth)
        assert created.status_code == 200, created.text
        tenant_id: str = created.json()["tenant"]["tenantId"]
        user = await client.post(
            "/v1/users",
            json={"user": {"email": email, "displayName": "Owner"}, "password": password, "roles": ["tenant-admin"]},
            headers={**auth, "x-tenant-id": tenant_id},
        )
        assert user.status_code == 200, user.text
        tenant_admin = await login(client, slug, email, password)
        account = await client.post(
            "/v1/serviceAccounts",
            json={"name": "no-role", "roles": []},
            headers={"authorization": f"Bearer {tenant_admin}", "x-tenant-id": tenant_id},
        )
        assert account.status_code == 200, account.text
        exchanged = await client.post("/v1/auth:exchangeApiKey", json={"apiKey": account.json()["apiKey"]})
        assert exchanged.status_code == 200, exchanged.text
        no_role: str = exchanged.json()["tokens"]["accessToken"]
    return Integrator(mesh, admin, tenant_id, slug, email, password, tenant_admin, no_role)


# Fuzzers and SDK tests make thousands of calls (and failed logins) from one address in a few
# seconds: the edge's rate limits and the login lockout, which have tests of their own, are
# raised so that they do not stand between these tests and the behaviour they check.
FUZZ_FRIENDLY_ENV = {
    "TENANTMESH_EDGE_RATE_LIMIT_RPS": "100000",
    "TENANTMESH_EDGE_TENANT_RATE_LIMIT_RPS": "100000",
    "TENANTMESH_LOGIN_MAX_FAILURES": "1000000",
    "TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES": "1000000",
    "TENANTMESH_PASSWORD_RESET_MAX_PER_CLIENT": "1000000",
    "TENANTMESH_INVITATION_RESEND_SECONDS": "0",
    # Webhooks to the test's own receivers (nothing else resolves on a machine without a network).
    "TENANTMESH_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
}


@pytest.fixture(scope="session")
async def running_mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MeshProcess]:
    """One `make run` mesh for the session's integrator-surface tests."""
    async with mesh_process(tmp_path_factory.mktemp("mesh"), FUZZ_FRIENDLY_ENV) as mesh:
        yield mesh


@pytest.fixture(scope="session")
async def integrator(running_mesh: MeshProcess) -> Integrator:
    return await prepare_integrator(running_mesh)
