"""Development mesh certificates: what `make run` issues, and when it issues them again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.mesh.dev_mesh_tls import MESH_RENEW_BEFORE, MESH_VALIDITY, ensure_dev_mesh_tls
from services.mesh.devtls import ensure_dev_tls
from services.runtime.config import ConfigError, load_settings
from services.runtime.mesh_tls import DEFAULT_TRUST_DOMAIN, EDGE, MeshTls, MeshTlsError, certificate_identity


def dev_layout(root: Path) -> MeshTls:
    return MeshTls(DEFAULT_TRUST_DOMAIN, root / "ca.pem", directory=root / "mesh")


def test_each_identity_gets_a_certificate_naming_it_and_a_private_key(tmp_path: Path) -> None:
    tls = dev_layout(tmp_path)
    assert ensure_dev_mesh_tls(tls, ["tenants", EDGE]) == ["tenants", EDGE]
    for name in ("tenants", EDGE):
        material = tls.read(name)
        assert certificate_identity(material.cert, DEFAULT_TRUST_DOMAIN) == name
        assert tls.files_of(name).key.stat().st_mode & 0o077 == 0
    # Another identity's certificate is refused for a service (a mounting mistake).
    swapped = MeshTls(DEFAULT_TRUST_DOMAIN, tls.ca_file, shared=tls.files_of(EDGE))
    with pytest.raises(MeshTlsError, match="names edge"):
        swapped.read("tenants")


def test_certificates_are_issued_again_only_when_due_or_from_another_ca(tmp_path: Path) -> None:
    tls = dev_layout(tmp_path)
    now = dt.datetime.now(dt.UTC)
    ensure_dev_mesh_tls(tls, ["auth"], now=now)
    assert ensure_dev_mesh_tls(tls, ["auth"], now=now) == []
    # Less than MESH_RENEW_BEFORE left: the runner's periodic check renews it.
    later = now + MESH_VALIDITY - MESH_RENEW_BEFORE + dt.timedelta(minutes=1)
    assert ensure_dev_mesh_tls(tls, ["auth"], now=later) == ["auth"]
    # A new development CA (the old one deleted): every certificate is re-issued under it.
    (tmp_path / "ca.pem").unlink()
    ensure_dev_tls(tmp_path)
    assert ensure_dev_mesh_tls(tls, ["auth"]) == ["auth"]


def test_mesh_tls_modes_from_the_environment(tmp_path: Path) -> None:
    data = {"TENANTMESH_DATA_DIR": str(tmp_path)}
    dev = load_settings(data).mesh_tls
    assert dev is not None
    assert dev.directory == tmp_path / "tls" / "mesh"
    assert load_settings({**data, "TENANTMESH_MESH_TLS": "off"}).mesh_tls is None
    files = {
        "TENANTMESH_MESH_TLS_CA_FILE": "/m/ca.crt",
        "TENANTMESH_MESH_TLS_CERT_FILE": "/m/tls.crt",
        "TENANTMESH_MESH_TLS_KEY_FILE": "/m/tls.key",
    }
    production = load_settings({**data, **files}).mesh_tls
    assert production is not None
    assert production.files_of("auth").cert == Path("/m/tls.crt")
    with pytest.raises(ConfigError, match="TENANTMESH_MESH_TLS_KEY_FILE"):
        load_settings({**data, "TENANTMESH_MESH_TLS": "files", **dict(list(files.items())[:2])})
    with pytest.raises(ConfigError, match="TENANTMESH_MESH_TLS"):
        load_settings({**data, "TENANTMESH_MESH_TLS": "sometimes"})
    with pytest.raises(ConfigError, match="TENANTMESH_MESH_TRUST_DOMAIN"):
        load_settings({**data, "TENANTMESH_MESH_TRUST_DOMAIN": "Not A Domain"})
