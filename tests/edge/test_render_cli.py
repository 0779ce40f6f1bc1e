"""``python -m services.mesh.render``: the edge config of a multi-process deployment.

Rendered in a subprocess exactly as the container entrypoint does, then checked by
``envoy --mode validate``. Validation resolves no DNS, so IP upstreams (STATIC clusters)
and DNS-named upstreams (STRICT_DNS) both validate; the DNS case additionally checks the
cluster type and address in the rendered YAML.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.manifest import PLATFORM
from services.mesh import apps, render
from services.mesh.dev_mesh_tls import ensure_dev_mesh_tls
from services.mesh.devtls import DevTls, ensure_dev_tls
from services.mesh.envoy_process import EnvoyProcess, validate_config
from services.mesh.runner import upstreams_for
from services.mesh.static_site import docs_pages
from services.runtime.config import load_settings
from services.runtime.mesh_tls import DEFAULT_TRUST_DOMAIN, EDGE, MeshTls
from tests.support.platform import platform
from tests.support.ports import free_port

pytestmark = pytest.mark.edge

REPO = Path(__file__).resolve().parents[2]
LIFECYCLE = "tenantmesh.lifecycle.v1"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> DevTls:
    return ensure_dev_tls(tmp_path_factory.mktemp("render-tls"))


def base_env(tls: DevTls, **extra: str) -> dict[str, str]:
    # A clean environment: nothing from the caller's TENANTMESH_* leaks into the render.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TENANTMESH_EDGE_BIND_ADDRESS": "0.0.0.0",
        "TENANTMESH_EDGE_TLS_CERT_FILE": str(tls.cert),
        "TENANTMESH_EDGE_TLS_KEY_FILE": str(tls.key),
        # Plaintext upstreams unless a test gives the edge its mesh certificate.
        "TENANTMESH_MESH_TLS": "off",
    }
    env.update(extra)
    return env


async def run_render(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.mesh.render",
        *args,
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def clusters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The upstream clusters; the edge's own ("_" names, e.g. for fetching the JWKS) are left out."""
    return {c["name"]: c for c in config["static_resources"]["clusters"] if not c["name"].startswith("_")}


def endpoint(cluster: dict[str, Any]) -> tuple[str, int]:
    address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    return address["socket_address"]["address"], address["socket_address"]["port_value"]


def transcoded_services(config: dict[str, Any]) -> list[str]:
    listener = config["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    [transcoder] = [f for f in manager["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"]
    services: list[str] = transcoder["typed_config"]["services"]
    return services


@pytest.mark.parametrize(
    ("addrs", "hosts"),
    [
        (tuple(f"127.0.0.1:{port}" for port in range(50061, 50067)), ("127.0.0.1",) * 6),
        (tuple(f"[::1]:{port}" for port in range(50061, 50067)), ("::1",) * 6),
    ],
)
async def test_ip_upstreams_render_valid_static_clusters(
    tls: DevTls, tmp_path: Path, addrs: tuple[str, ...], hosts: tuple[str, ...]
) -> None:
    output = tmp_path / "envoy.yaml"
    env = base_env(
        tls,
        TENANTMESH_TENANTS_ADDR=addrs[0],
        TENANTMESH_AUTH_ADDR=addrs[1],
        TENANTMESH_REGISTRY_ADDR=addrs[2],
        TENANTMESH_FORMS_ADDR=addrs[3],
        TENANTMESH_MENUS_ADDR=addrs[4],
        TENANTMESH_WEBHOOKS_ADDR=addrs[5],
        TENANTMESH_EDGE_CONCURRENCY="2",
    )
    code, out, err = await run_render(env, "--output", str(output))  # default: every built service
    assert code == 0, err
    assert out == ""
    config = yaml.safe_load(output.read_text(encoding="utf-8"))
    found = clusters(config)
    # Every routed service, and the rate limit service the edge asks about each tenant's requests.
    assert set(found) == {"tenants", "auth", "registry", "forms", "menus", "webhooks", "ratelimit"}
    assert all(cluster["type"] == "STATIC" for cluster in found.values())
    assert endpoint(found["tenants"]) == (hosts[0], 50061)
    assert endpoint(found["auth"]) == (hosts[1], 50062)
    assert endpoint(found["registry"]) == (hosts[2], 50063)
    assert endpoint(found["forms"]) == (hosts[3], 50064)
    assert endpoint(found["menus"]) == (hosts[4], 50065)
    assert endpoint(found["webhooks"]) == (hosts[5], 50066)
    await validate_config(output)


async def test_dns_upstreams_render_strict_dns_clusters(tls: DevTls, tmp_path: Path) -> None:
    # The addresses of deploy/k8s/configmap.yaml: headless Services.
    env = base_env(
        tls,
        TENANTMESH_TENANTS_ADDR="tenants.tenantmesh.svc.cluster.local:50051",
        TENANTMESH_AUTH_ADDR="auth.tenantmesh.svc.cluster.local:50052",
    )
    code, out, err = await run_render(env, "--services", "tenants,auth")  # to stdout
    assert code == 0, err
    config = yaml.safe_load(out)
    for name, port in (("tenants", 50051), ("auth", 50052)):
        cluster = clusters(config)[name]
        assert cluster["type"] == "STRICT_DNS"
        assert endpoint(cluster) == (f"{name}.tenantmesh.svc.cluster.local", port)
    # validate mode resolves nothing, so a DNS name validates as well.
    path = tmp_path / "envoy.yaml"
    path.write_text(out, encoding="utf-8")
    await validate_config(path)


async def test_only_listed_services_are_routed_and_lifecycle_never(tls: DevTls, tmp_path: Path) -> None:
    env = base_env(tls, TENANTMESH_TENANTS_ADDR="127.0.0.1:50061", TENANTMESH_AUTH_ADDR="127.0.0.1:50062")
    output = tmp_path / "envoy.yaml"
    code, _, err = await run_render(env, "--services", "auth, tenants", "-o", str(output))
    assert code == 0, err
    text = output.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert set(clusters(config)) == {"auth", "tenants", "ratelimit"}
    assert endpoint(clusters(config)["auth"]) == ("127.0.0.1", 50062)
    services = transcoded_services(config)
    assert "tenantmesh.meta.v1.MetaService" in services
    assert "tenantmesh.auth.v1.AuthService" in services
    assert "tenantmesh.tenants.v1.TenantService" in services
    assert LIFECYCLE not in text
    await validate_config(output)

    # Without the global rate limit the edge reaches only the services it routes.
    code, out, err = await run_render({**env, "TENANTMESH_EDGE_GLOBAL_RATE_LIMIT": "off"}, "--services", "tenants")
    assert code == 0, err
    assert set(clusters(yaml.safe_load(out))) == {"tenants"}
    assert "envoy.filters.http.ratelimit" not in out
    assert "tenantmesh.auth.v1" not in out
    assert LIFECYCLE not in out


def test_packages_come_from_the_manifest() -> None:
    settings = load_settings({})
    assert render.default_services(PLATFORM) == ("tenants", "auth", "registry", "forms", "menus", "webhooks")
    served = {u.name: u.packages for u in render.upstreams_from_settings(settings, render.default_services(PLATFORM))}
    assert served == {
        "tenants": ("tenantmesh.tenants.v1", "tenantmesh.meta.v1"),
        "auth": ("tenantmesh.auth.v1",),
        "registry": ("tenantmesh.registry.v1",),
        "forms": ("tenantmesh.forms.v1",),
        "menus": ("tenantmesh.menus.v1",),
        "webhooks": ("tenantmesh.webhooks.v1",),
    }
    # The meta API goes to the first service listed, as in the single-process runner.
    served = {u.name: u.packages for u in render.upstreams_from_settings(settings, ("auth", "tenants"))}
    assert served == {"auth": ("tenantmesh.auth.v1", "tenantmesh.meta.v1"), "tenants": ("tenantmesh.tenants.v1",)}


async def test_packages_agree_with_the_mesh_runner(tmp_path: Path) -> None:
    # What the single-process runner routes (from the servers it started) is what the
    # renderer derives from the descriptor set, service by service.
    async with platform(f"sqlite+aiosqlite:///{tmp_path / 'core.db'}", tmp_path) as mesh:
        settings = mesh.runtime.settings
        started = {u.name: set(u.packages) for u in upstreams_for(mesh.started, settings)}
        names = tuple(item.app.name for item in mesh.started)
    derived = {u.name: set(u.packages) for u in render.upstreams_from_settings(settings, names)}
    assert derived == started
    for service_packages in derived.values():
        assert not service_packages & apps.INTERNAL_PACKAGES


@pytest.mark.parametrize(
    ("extra", "args", "message"),
    [
        ({}, ["--services", "billing"], "unknown services"),
        ({}, ["--services", " , "], "at least one service"),
        ({"TENANTMESH_TENANTS_ADDR": "tenants"}, [], "TENANTMESH_TENANTS_ADDR"),
        ({"TENANTMESH_EDGE_CONCURRENCY": "0"}, [], "concurrency"),
        ({"TENANTMESH_EDGE_TLS_KEY_FILE": ""}, [], "TENANTMESH_EDGE_TLS_KEY_FILE"),
        ({}, ["--descriptor", "/nonexistent/descriptor.binpb"], "descriptor set not found"),
    ],
)
async def test_bad_configuration_exits_2(tls: DevTls, extra: dict[str, str], args: list[str], message: str) -> None:
    code, out, err = await run_render(base_env(tls, **extra), *args)
    assert code == 2
    assert out == ""
    assert message in err


async def test_tls_is_required_unless_dev_tls_is_asked_for(tmp_path: Path) -> None:
    # The edge's own TLS (mesh TLS behind it has its test below).
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TENANTMESH_MESH_TLS": "off"}
    code, _, err = await run_render(env)
    assert code == 2
    assert "TENANTMESH_EDGE_TLS_CERT_FILE" in err
    code, out, err = await run_render(env, "--dev-tls", str(tmp_path / "tls"))
    assert code == 0, err
    assert str(tmp_path / "tls" / "server.pem") in out


async def test_deployments_serve_the_openapi_document_and_reference(tls: DevTls, tmp_path: Path) -> None:
    """The rendered config of a deployment (no static server beside Envoy) answers /openapi.json and
    /docs itself: public, GET/HEAD only, cacheable, the same bytes as `make run` serves."""
    https_port, http_port, admin_port = free_port(), free_port(), free_port()
    env = base_env(
        tls,
        TENANTMESH_EDGE_BIND_ADDRESS="127.0.0.1",
        TENANTMESH_EDGE_HTTPS_PORT=str(https_port),
        TENANTMESH_EDGE_HTTP_PORT=str(http_port),
        TENANTMESH_EDGE_ADMIN_PORT=str(admin_port),
        TENANTMESH_TENANTS_ADDR="127.0.0.1:50061",
        TENANTMESH_AUTH_ADDR="127.0.0.1:50062",
    )
    output, static = tmp_path / "envoy.yaml", tmp_path / "static"
    code, _, err = await run_render(env, "--services", "tenants,auth", "-o", str(output), "--static-dir", str(static))
    assert code == 0, err
    await validate_config(output)
    pages = docs_pages()
    assert {"/openapi.json", "/docs", "/docs/swagger-ui-bundle.js"} <= set(pages)

    envoy = EnvoyProcess(
        output.read_text(encoding="utf-8"),
        config_path=tmp_path / "running.yaml",
        admin_port=admin_port,
        base_id=None,
        log_path=tmp_path / "envoy.log",
    )
    await envoy.start()
    try:
        await envoy.wait_ready()
        context = ssl.create_default_context(cafile=str(tls.ca_cert))
        async with httpx.AsyncClient(base_url=f"https://localhost:{https_port}", verify=context) as client:
            for path in ("/openapi.json", "/docs", "/docs/swagger-ui-bundle.js"):
                response = await client.get(path)  # no token: public
                assert response.status_code == 200, (path, response.text[:200])
                assert response.content == pages[path].body
                assert response.headers["content-type"] == pages[path].content_type
                assert response.headers["cache-control"].startswith("public, max-age=")
                assert response.headers["etag"] == pages[path].etag
            assert "default-src 'self'" in (await client.get("/docs")).headers["content-security-policy"]
            assert json.loads((await client.get("/openapi.json")).content)["openapi"].startswith("3.1")
            # Only reads; other paths still need a token.
            assert (await client.post("/openapi.json", content=b"{}")).status_code in (401, 404, 405)
            assert (await client.get("/docs/../etc/passwd")).status_code in (401, 404)
    finally:
        await envoy.stop()


async def test_mesh_tls_upstreams_present_the_edge_certificate_and_check_each_service(
    tls: DevTls, tmp_path: Path
) -> None:
    mesh = MeshTls(DEFAULT_TRUST_DOMAIN, tls.ca_cert, directory=tmp_path / "mesh")
    ensure_dev_mesh_tls(mesh, [EDGE, "tenants"])
    edge_files = mesh.files_of(EDGE)
    env = base_env(
        tls,
        TENANTMESH_MESH_TLS="files",
        TENANTMESH_MESH_TLS_CA_FILE=str(tls.ca_cert),
        TENANTMESH_MESH_TLS_CERT_FILE=str(edge_files.cert),
        TENANTMESH_MESH_TLS_KEY_FILE=str(edge_files.key),
        TENANTMESH_TENANTS_ADDR="127.0.0.1:50061",
        TENANTMESH_AUTH_ADDR="127.0.0.1:50062",
    )
    output = tmp_path / "out" / "envoy.yaml"
    code, _, err = await run_render(env, "--services", "tenants,auth", "--output", str(output))
    assert code == 0, err
    for name in ("tenants", "auth"):
        context = clusters(yaml.safe_load(output.read_text(encoding="utf-8")))[name]["transport_socket"]["typed_config"]
        common = context["common_tls_context"]
        assert common["tls_params"]["tls_minimum_protocol_version"] == "TLSv1_3"
        [san] = common["combined_validation_context"]["default_validation_context"]["match_typed_subject_alt_names"]
        assert san == {"san_type": "URI", "matcher": {"exact": f"spiffe://{DEFAULT_TRUST_DOMAIN}/svc/{name}"}}
    sds = yaml.safe_load((output.parent / "sds" / "mesh-certificate.json").read_text(encoding="utf-8"))
    assert sds["resources"][0]["tls_certificate"]["certificate_chain"]["filename"] == str(edge_files.cert)
    await validate_config(output)
    # A certificate that does not name the edge (a service's, mounted by mistake) is refused.
    wrong = {**env, "TENANTMESH_MESH_TLS_CERT_FILE": str(mesh.files_of("tenants").cert)}
    wrong["TENANTMESH_MESH_TLS_KEY_FILE"] = str(mesh.files_of("tenants").key)
    code, _, err = await run_render(wrong, "--output", str(output))
    assert code == 2
    assert "not 'edge'" in err
    # Mesh TLS left at its development default has no edge certificate to render with.
    code, _, err = await run_render({**base_env(tls), "TENANTMESH_MESH_TLS": "dev"}, "--output", str(output))
    assert code == 2
    assert "TENANTMESH_MESH_TLS_CERT_FILE" in err
