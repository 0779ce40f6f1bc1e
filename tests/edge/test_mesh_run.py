"""``make run`` end to end: ``python -m services.mesh run`` as the README starts it.

A real process on the embedded default (SQLite, no Redis): it must come up behind
Envoy, print the banner with the generated administrator password and the dev CA,
answer REST over TLS with that password, provision a tenant, and stop cleanly on
Ctrl-C (SIGINT), taking Envoy with it. Only the ports and the data directory are
the test's own, so it can run beside a developer's mesh.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from services.cli.tenantctl import build_parser, run
from tests.support.ports import free_port
from tests.support.running_mesh import MeshProcess, login, mesh_environment, mesh_process, read_output


async def test_make_run_serves_the_readme_walkthrough_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    # At info level, as a developer reads it: start-up must log no traceback and no multi-line
    # gRPC debug strings for the retries it expects (registry not reachable yet, ...).
    async with mesh_process(tmp_path, {"TENANTMESH_LOG_LEVEL": "info"}) as mesh:
        assert f"https://localhost:{mesh.https_port}" in mesh.banner
        started = read_output(mesh.output)
        assert "Traceback" not in started
        assert "debug_error_string" not in started
        assert '"level": "error"' not in started
        async with mesh.client() as client:
            info = await client.get("/v1/meta/server-info")
            assert info.status_code == 200, info.text
            login = await client.post(
                "/v1/auth:login",
                json={"tenant": "platform", "email": "admin@tenantmesh.local", "password": mesh.admin_password},
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

        # Ctrl-C stops it cleanly...
        assert await mesh.stop() == 0, read_output(mesh.output)
        whole_run = read_output(mesh.output)
        assert "Traceback" not in whole_run
        assert "debug_error_string" not in whole_run
        # ...and Envoy went with it: nothing answers on the edge's ports any more.
        async with httpx.AsyncClient(timeout=2) as client:
            for port in (mesh.http_port, mesh.admin_port):
                try:
                    await client.get(f"http://127.0.0.1:{port}/")
                except httpx.TransportError:
                    continue
                raise AssertionError(f"port {port} still answers after the mesh stopped")


async def test_a_busy_port_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    """A second `make run` on busy ports: one line naming the port and the variable to change,
    exit code 2, no traceback (it used to end in one from deep inside a server's start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = mesh_environment(tmp_path / "data", port, free_port(), free_port())
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.mesh",
            "run",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    lines = [line for line in (out + err).decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(port) in lines[0]
    assert "TENANTMESH_EDGE_HTTPS_PORT" in lines[0]
    assert "Traceback" not in lines[0]


async def test_tenantctl_reaches_the_edge_over_tls_with_the_dev_ca(
    running_mesh: MeshProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tenantctl --target <edge HTTPS> --ca <dev CA>`: the one public address, over TLS."""
    async with running_mesh.client() as client:
        token = await login(client, "platform", "admin@tenantmesh.local", running_mesh.admin_password)
    slug = f"tls-{uuid.uuid4().hex[:8]}"
    common = ["--target", running_mesh.grpc_tls_target, "--ca", str(running_mesh.ca_file), "--token", token]
    assert await run(build_parser().parse_args([*common, "tenants", "create", slug])) == 0
    assert await run(build_parser().parse_args([*common, "--json", "tenants", "get", "--slug", slug])) == 0
    printed = capsys.readouterr().out.splitlines()
    assert json.loads(printed[-1])["slug"] == slug
    # Without --ca the HTTPS port is not spoken to in plaintext: the call fails, exit 1.
    plain = ["--target", running_mesh.grpc_tls_target, "--token", token, "--timeout", "10"]
    assert await run(build_parser().parse_args([*plain, "tenants", "list"])) == 1
    assert capsys.readouterr().err.startswith("error: UNAVAILABLE")
