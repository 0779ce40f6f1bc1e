"""``make run`` end to end: ``python -m services.mesh run`` as the README starts it.

A real process on the embedded default (SQLite, no Redis): it must come up behind
Envoy, print the banner with the generated administrator password and the dev CA,
answer REST over TLS with that password, provision a tenant, and stop cleanly on
Ctrl-C (SIGINT), taking Envoy with it. Only the ports and the data directory are
the test's own, so it can run beside a developer's mesh.
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
from pathlib import Path

import httpx

from services.manifest import PLATFORM

from .conftest import free_port

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def mesh_environment(data_dir: Path, https_port: int, http_port: int, admin_port: int) -> dict[str, str]:
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
        }
    )
    for spec in PLATFORM:
        env[spec.address_variable] = f"127.0.0.1:{free_port()}"
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


async def test_make_run_serves_the_readme_walkthrough_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    https_port, http_port, admin_port = free_port(), free_port(), free_port()
    env = mesh_environment(tmp_path / "data", https_port, http_port, admin_port)
    # A file, not a pipe: the banner is read while the process runs, and a pipe nobody
    # drains could fill up and block it.
    with tempfile.NamedTemporaryFile(dir=tmp_path, suffix=".out", delete=False) as out:
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
        password = banner_value(banner, "admin password")
        ca_file = banner_value(banner, "dev CA certificate")
        assert f"https://localhost:{https_port}" in banner

        tls = ssl.create_default_context(cafile=ca_file)
        async with httpx.AsyncClient(base_url=f"https://localhost:{https_port}", verify=tls, timeout=30) as client:
            info = await client.get("/v1/meta/server-info")
            assert info.status_code == 200, info.text
            login = await client.post(
                "/v1/auth:login",
                json={"tenant": "platform", "email": "admin@tenantmesh.local", "password": password},
            )
            assert login.status_code == 200, login.text
            auth = {"authorization": f"Bearer {login.json()['tokens']['accessToken']}"}
            created = await client.post("/v1/tenants", json={"slug": "acme", "displayName": "Acme"}, headers=auth)
            assert created.status_code == 200, created.text
            tenant = created.json()["tenant"]
            assert tenant["state"] == "TENANT_STATE_ACTIVE"
            fetched = await client.get(f"/v1/tenants/{tenant['tenantId']}", headers=auth)
            assert fetched.status_code == 200, fetched.text
            assert fetched.json()["tenant"]["slug"] == "acme"
            refused = await client.get("/v1/tenants")
            assert refused.status_code == 401, refused.text

        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S) == 0, read_output(output)
        # Envoy went with it: nothing answers on the edge's ports any more.
        async with httpx.AsyncClient(timeout=2) as client:
            for port in (http_port, admin_port):
                try:
                    await client.get(f"http://127.0.0.1:{port}/")
                except httpx.TransportError:
                    continue
                raise AssertionError(f"port {port} still answers after the mesh stopped")
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
