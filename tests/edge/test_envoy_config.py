"""The rendered Envoy config passes `envoy --mode validate` (which also loads the descriptor
set and the TLS files); the dev TLS material it uses."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from services.mesh import devtls
from services.mesh.devtls import DevTls
from services.mesh.edge import EdgeSettings, Upstream, render_envoy_config
from services.mesh.envoy_process import EnvoyError, EnvoyProcess, envoy_binary, validate_config
from tests.support.ports import free_port

pytestmark = pytest.mark.edge

UPSTREAMS = [
    Upstream(
        "tenants",
        "127.0.0.1",
        50051,
        ("tenantmesh.tenants.v1",),
        health_service="tenantmesh.tenants.v1.TenantService",
    ),
    # A DNS name: rendered as a STRICT_DNS cluster.
    Upstream("meta", "localhost", 50052, ("tenantmesh.meta.v1",)),
]


def _settings(tls: DevTls, **overrides: Any) -> EdgeSettings:
    return EdgeSettings(tls_cert_file=tls.cert, tls_key_file=tls.key, **overrides)


def test_envoy_is_installed() -> None:
    assert envoy_binary().is_file()


async def test_rendered_config_validates(tmp_path: Path, dev_tls: DevTls) -> None:
    path = tmp_path / "envoy.yaml"
    path.write_text(render_envoy_config(_settings(dev_tls), UPSTREAMS))
    await validate_config(path)


async def test_public_bind_with_origins_and_limits_validates(tmp_path: Path, dev_tls: DevTls) -> None:
    settings = _settings(
        dev_tls,
        bind_address="0.0.0.0",  # what a container deployment uses
        cors_allowed_origins=("https://app.example.com", "http://localhost:5173"),
        per_tenant_rate_limit_rps=20,
        global_rate_limit_rps=5000,
        concurrency=2,
    )
    text = render_envoy_config(settings, UPSTREAMS)
    path = tmp_path / "envoy.yaml"
    path.write_text(text)
    await validate_config(path)
    config = yaml.safe_load(text)
    # The admin interface never follows bind_address.
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert clusters["tenants"]["type"] == "STATIC"
    assert clusters["meta"]["type"] == "STRICT_DNS"
    check = clusters["tenants"]["health_checks"][0]
    assert check["grpc_health_check"]["service_name"] == "tenantmesh.tenants.v1.TenantService"
    assert check["healthy_threshold"] == 1


def _local_reply_mappers(config: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The JSON local-reply mappers of the first listener, by the HTTP status they match."""
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    found: dict[int, dict[str, Any]] = {}
    for mapper in manager["local_reply_config"]["mappers"]:
        for condition in mapper["filter"]["and_filter"]["filters"]:
            if "status_code_filter" in condition:
                found[condition["status_code_filter"]["comparison"]["value"]["default_value"]] = mapper
    return found


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [(431, 3, "REQUEST_TOO_LARGE"), (408, 4, "REQUEST_TIMEOUT"), (500, 13, "EDGE_INTERNAL")],
)
def test_every_local_reply_status_has_the_json_shape(dev_tls: DevTls, status: int, code: int, reason: str) -> None:
    """Headers over the limit (431), a request too slow to arrive (408) and a failure in the edge
    itself (500) are answered like Envoy's other replies, not in text/plain."""
    config = yaml.safe_load(render_envoy_config(_settings(dev_tls), UPSTREAMS))
    body = _local_reply_mappers(config)[status]["body_format_override"]
    assert body["content_type"] == "application/json"
    assert body["json_format"]["code"] == code
    assert body["json_format"]["details"][0]["reason"] == reason


def test_grpc_routes_take_post_only(dev_tls: DevTls) -> None:
    """Every route to a service for a gRPC content type matches POST only; the first route answers
    any other method itself (never forwarded: the servers reset such a stream)."""
    config = yaml.safe_load(render_envoy_config(_settings(dev_tls), UPSTREAMS))
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    first = routes[0]
    assert first["match"]["prefix"] == "/"
    assert first["match"]["headers"] == [
        {"name": "content-type", "string_match": {"safe_regex": {"regex": "application/grpc(\\+.*)?"}}},
        {"name": ":method", "string_match": {"exact": "POST"}, "invert_match": True},
    ]
    assert "direct_response" in first
    # Then a gRPC call whose grpc-timeout or grpc-encoding the services cannot parse.
    refused = {}
    for route in routes[1:3]:
        content_type, header = route["match"]["headers"]
        assert content_type == first["match"]["headers"][0]
        assert header["invert_match"] is True
        refused[header["name"]] = header["string_match"]["safe_regex"]["regex"]
        added = {item["header"]["key"]: item["header"]["value"] for item in route["response_headers_to_add"]}
        assert added["grpc-status"] == "3"
    assert refused == {"grpc-timeout": "[0-9]{1,8}[HMSmun]", "grpc-encoding": "identity|gzip|deflate"}
    forwarded = [route for route in routes[1:] if "grpc" in route["match"]]
    assert forwarded
    for route in forwarded:
        assert route["match"]["headers"] == [{"name": ":method", "string_match": {"exact": "POST"}}], route


async def test_broken_config_is_reported(tmp_path: Path, dev_tls: DevTls) -> None:
    text = render_envoy_config(_settings(dev_tls), UPSTREAMS)
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace("convert_grpc_status: true", "convert_grpc_status: [1]"))
    with pytest.raises(EnvoyError, match="convert_grpc_status"):
        await validate_config(path)


async def test_missing_descriptor_is_reported(tmp_path: Path, dev_tls: DevTls) -> None:
    real = render_envoy_config(_settings(dev_tls), UPSTREAMS)
    path = tmp_path / "envoy.yaml"
    path.write_text(real.replace(str(_settings(dev_tls).descriptor_path), str(tmp_path / "missing.binpb")))
    with pytest.raises(EnvoyError):
        await validate_config(path)


async def test_the_edges_files_are_owner_only_whatever_the_umask(tmp_path: Path, dev_tls: DevTls) -> None:
    """Its config (every service's address), its log and its access log (every caller's
    requests) were made with the process umask: 0666 and 0777 under umask 000."""
    folder = tmp_path / "envoy"
    ports = {"https_port": free_port(), "http_port": free_port(), "admin_port": free_port()}
    settings = _settings(dev_tls, access_log_path=str(folder / "access.log"), **ports)
    envoy = EnvoyProcess.for_edge(
        settings, UPSTREAMS, config_path=folder / "envoy.yaml", base_id=None, log_path=folder / "envoy.log"
    )
    old_umask = os.umask(0)
    try:
        await envoy.start()
        await envoy.wait_ready()
    finally:
        os.umask(old_umask)
        await envoy.stop()
    modes = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in [folder, *folder.iterdir()]}
    assert modes == {"envoy": "0o700", "envoy.yaml": "0o600", "envoy.log": "0o600", "access.log": "0o600"}


# --------------------------------------------------------------------------- dev TLS material


def test_dev_tls_is_created_once_and_reused(tmp_path: Path) -> None:
    first = devtls.ensure_dev_tls(tmp_path / "tls")
    contents = {p: p.read_bytes() for p in (first.ca_cert, first.cert, first.key, first.ca_key)}
    second = devtls.ensure_dev_tls(tmp_path / "tls")
    assert second == first
    assert {p: p.read_bytes() for p in contents} == contents
    for key in (first.key, first.ca_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_dev_tls_server_cert_names_and_chain(tmp_path: Path) -> None:
    tls = devtls.ensure_dev_tls(tmp_path)
    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(tls.ca_cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=364) < lifetime <= dt.timedelta(days=366)
    # Python's own TLS stack accepts the chain for both names.
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    context.load_cert_chain(tls.cert, tls.key)


def test_dev_tls_regenerates_missing_or_expiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = devtls.ensure_dev_tls(tmp_path)
    ca_pem, cert_pem = first.ca_cert.read_bytes(), first.cert.read_bytes()
    first.cert.unlink()
    again = devtls.ensure_dev_tls(tmp_path)
    # Only the server certificate is re-issued; the (possibly trusted) CA stays.
    assert again.ca_cert.read_bytes() == ca_pem
    assert again.cert.read_bytes() != cert_pem
    # Everything "expires within the renewal window": all of it is regenerated.
    monkeypatch.setattr(devtls, "RENEW_BEFORE", dt.timedelta(days=400))
    renewed = devtls.ensure_dev_tls(tmp_path)
    assert renewed.ca_cert.read_bytes() != ca_pem
