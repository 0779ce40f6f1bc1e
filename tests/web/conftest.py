"""The web console's tests: one `make run` mesh serving the built console for the session, and the
facts the browser tests need about it (its URL, the admin password, where it writes mail, the
public key its development certificate is trusted by)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from services.mesh.devtls import CERT_NAME
from tests.support.running_mesh import FUZZ_FRIENDLY_ENV, MeshProcess, mesh_process

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def spki_sha256(cert_pem: bytes) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)), as Chromium's --ignore-certificate-errors-spki-list takes it."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def require_console_tools() -> None:
    """The built console and Chromium are part of the test setup (`make test` provides them):
    missing, the tests fail with the command that makes them, never skip."""
    if not (WEB / "out" / "index.html").is_file() or not (WEB / "node_modules" / ".bin" / "playwright").exists():
        pytest.fail("the web console is not built: run `make console` (make test does)")
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's")


@pytest.fixture(scope="session")
async def console_mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MeshProcess]:
    require_console_tools()
    async with mesh_process(tmp_path_factory.mktemp("console-mesh"), FUZZ_FRIENDLY_ENV) as mesh:
        yield mesh


def browser_env(mesh: MeshProcess) -> dict[str, str]:
    tls = mesh.data_dir / "tls"
    return {
        **os.environ,
        "CONSOLE_URL": mesh.https_url,
        "CONSOLE_ADMIN_PASSWORD": mesh.admin_password,
        "CONSOLE_MAIL_DIR": str(mesh.data_dir / "mail"),
        "CONSOLE_TLS_SPKI": spki_sha256((tls / CERT_NAME).read_bytes()),
        "CHROMIUM_PATH": str(CHROMIUM),
        # Node (the tests' own SDK calls) trusts the dev CA.
        "NODE_EXTRA_CA_CERTS": str(mesh.ca_file),
        "NEXT_TELEMETRY_DISABLED": "1",
    }


def npx(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    npx_path = shutil.which("npx")
    assert npx_path is not None, "npx (Node >= 20) is needed for the console's tests"
    return subprocess.run(
        [npx_path, *args], cwd=WEB, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
