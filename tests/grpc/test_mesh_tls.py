"""Mutual TLS between the services: who may connect, whose headers are believed, who may call
internal-only RPCs, and certificates re-issued while the servers run (issue 13 §1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import auth_service_pb2_grpc
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2 as lifecycle_pb
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb
from tenantmesh.tenants.v1 import tenant_service_pb2_grpc
from tenantmesh.type.v1 import database_pb2

from services.cli.tenantctl import build_parser as tenantctl_parser
from services.cli.tenantctl import run as tenantctl_run
from services.mesh.dev_mesh_tls import dev_ca, issue_dev_mesh_certificate
from services.mesh.devtls import ensure_dev_tls
from services.runtime.mesh_tls import EDGE, MeshTls
from tests.support.errors import expect_error
from tests.support.mesh_tls import TESTER, mesh_channel, served_certificate
from tests.support.platform import Platform, bearer, platform

SPOOFED = "203.0.113.7"
OTHER_SPOOFED = "198.51.100.23"
WRONG = "not-the-password-at-all"


@pytest.fixture
async def mesh(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    env = {"TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES": "4", "TENANTMESH_LOGIN_LOCK_SECONDS": "60"}
    async with platform(db_backend_url, tmp_path, env=env, mesh_tls=True) as running:
        yield running


def tls_of(mesh: Platform) -> MeshTls:
    tls = mesh.runtime.settings.mesh_tls
    assert tls is not None
    return tls


def auth_stub_as(mesh: Platform, caller: str) -> tuple[Any, grpc.aio.Channel]:
    channel = mesh_channel(tls_of(mesh), mesh.runtime.addresses["auth"], "auth", caller)
    return auth_service_pb2_grpc.AuthServiceStub(channel), channel


async def audited_addresses(mesh: Platform, admin_token: str, request_id: str) -> list[str]:
    response = await mesh.admin_stub("AuditService").ListPlatformAuditEvents(
        admin_pb.ListPlatformAuditEventsRequest(action_prefix="auth.login", page_size=500),
        metadata=bearer(admin_token),
    )
    return [e.client_address for e in response.audit_events if e.request_id == request_id]


async def test_a_caller_without_a_certificate_of_the_mesh_ca_never_reaches_a_handler(
    mesh: Platform, tmp_path: Path
) -> None:
    address = mesh.runtime.addresses["tenants"]
    request = tenants_pb.ListTenantsRequest()
    async with grpc.aio.insecure_channel(address) as plaintext:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await tenant_service_pb2_grpc.TenantServiceStub(plaintext).ListTenants(request, timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # TLS that trusts the server but presents no client certificate.
    server_only = grpc.ssl_channel_credentials(root_certificates=tls_of(mesh).ca_file.read_bytes())
    options = [("grpc.ssl_target_name_override", "tenants")]
    async with grpc.aio.secure_channel(address, server_only, options=options) as anonymous:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await tenant_service_pb2_grpc.TenantServiceStub(anonymous).ListTenants(request, timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # A certificate that names a platform service, from another CA.
    stranger_dir = tmp_path / "other-ca"
    ensure_dev_tls(stranger_dir)
    other = MeshTls(tls_of(mesh).trust_domain, stranger_dir / "ca.pem", directory=stranger_dir / "mesh")
    (stranger_dir / "mesh").mkdir()
    issue_dev_mesh_certificate(other, "tenants", dev_ca(other), dt.datetime.now(dt.UTC))
    forged = grpc.ssl_channel_credentials(
        root_certificates=tls_of(mesh).ca_file.read_bytes(),
        private_key=other.files_of("tenants").key.read_bytes(),
        certificate_chain=other.files_of("tenants").cert.read_bytes(),
    )
    async with grpc.aio.secure_channel(address, forged, options=options) as impostor:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await tenant_service_pb2_grpc.TenantServiceStub(impostor).ListTenants(request, timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_spoofed_client_address_on_a_direct_port_is_not_believed(mesh: Platform) -> None:
    """Issue 13: failed logins with a forged x-tenantmesh-client-address locked that address and
    audited it, and another forged address then logged in. Only the edge's identity is believed."""
    admin_token = await mesh.admin_token()  # before this address is locked
    stub, channel = auth_stub_as(mesh, TESTER)
    async with channel:
        request_ids = []
        for index in range(4):
            request_id = f"spoof-{index}-{uuid.uuid4().hex}"
            request_ids.append(request_id)
            await expect_error(
                stub.Login(
                    auth_pb.LoginRequest(tenant="platform", email=f"guess-{index}@example.test", password=WRONG),
                    metadata=(("x-tenantmesh-client-address", SPOOFED), ("x-request-id", request_id)),
                ),
                grpc.StatusCode.UNAUTHENTICATED,
                "INVALID_CREDENTIALS",
            )
        # The failures counted against the caller's real address: a fresh forged one does not help.
        await expect_error(
            stub.Login(
                auth_pb.LoginRequest(tenant="platform", email="admin@example.test", password=WRONG),
                metadata=(("x-tenantmesh-client-address", OTHER_SPOOFED),),
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "LOGIN_LOCKED",
        )
    for request_id in request_ids:
        # The gRPC peer as the server saw it, never the forged value.
        addresses = await audited_addresses(mesh, admin_token, request_id)
        assert addresses, request_id
        assert all(address.startswith("ipv4:127.0.0.1:") for address in addresses), addresses


async def test_the_edge_identity_is_believed_about_the_client_address(mesh: Platform) -> None:
    # The control of the test above: the same header from the edge's certificate is the client's address.
    stub, channel = auth_stub_as(mesh, EDGE)
    request_id = f"edge-{uuid.uuid4().hex}"
    async with channel:
        await expect_error(
            stub.Login(
                auth_pb.LoginRequest(tenant="platform", email="nobody@example.test", password=WRONG),
                metadata=(("x-tenantmesh-client-address", SPOOFED), ("x-request-id", request_id)),
            ),
            grpc.StatusCode.UNAUTHENTICATED,
            "INVALID_CREDENTIALS",
        )
    addresses = await audited_addresses(mesh, await mesh.admin_token(), request_id)
    assert addresses, request_id
    assert set(addresses) == {SPOOFED}


def lifecycle_request() -> lifecycle_pb.DeprovisionTenantRequest:
    return lifecycle_pb.DeprovisionTenantRequest(
        tenant_id=str(uuid.uuid4()),
        database=database_pb2.DatabasePlacement(server="default", database="tenant_nothing_here"),
    )


async def test_internal_only_rpcs_answer_only_the_identities_allowed_to_call_them(mesh: Platform) -> None:
    # The platform's own service token carries the lifecycle permissions: a token is not enough.
    service_token = await mesh.runtime.credentials.metadata()
    tls = tls_of(mesh)
    address = mesh.runtime.addresses["tenants"]
    for caller in (TESTER, EDGE, "auth"):
        async with mesh_channel(tls, address, "tenants", caller) as channel:
            stub: Any = lifecycle_service_pb2_grpc.TenantLifecycleServiceStub(channel)
            await expect_error(
                stub.DeprovisionTenant(lifecycle_request(), metadata=service_token),
                grpc.StatusCode.PERMISSION_DENIED,
                "CALLER_NOT_ALLOWED",
            )
    # The tenants service's own identity gets past the identity check to the handler.
    async with mesh_channel(tls, address, "tenants", "tenants") as channel:
        stub = lifecycle_service_pb2_grpc.TenantLifecycleServiceStub(channel)
        code = grpc.StatusCode.OK
        try:
            await stub.DeprovisionTenant(lifecycle_request(), metadata=service_token)
        except grpc.aio.AioRpcError as answered:
            code = answered.code()
        # The handler's answer (the placement is outside this platform's prefix), not a refusal.
        assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), code
    # And provisioning, which the tenants service does over the mesh as itself, works.
    created = await mesh.create_tenant(f"mtls-{uuid.uuid4().hex[:8]}")
    assert created.tenant_id


async def test_certificates_reissued_while_running_are_used_without_a_restart(mesh: Platform) -> None:
    tls = tls_of(mesh)
    address = mesh.runtime.addresses["auth"]
    before = served_certificate(tls, address, "auth")
    reissued = issue_dev_mesh_certificate(tls, "auth", dev_ca(tls), dt.datetime.now(dt.UTC))
    assert reissued.serial_number != before.serial_number
    # The next handshake presents the new certificate.
    assert served_certificate(tls, address, "auth").serial_number == reissued.serial_number
    # Outgoing calls pick up their own re-issued certificate: a new channel from the pool.
    old_channel = mesh.runtime.channel("auth")
    issue_dev_mesh_certificate(tls, "tenants", dev_ca(tls), dt.datetime.now(dt.UTC))
    await asyncio.sleep(1.1)  # the pool looks at the files at most once a second
    assert mesh.runtime.channel("auth") is not old_channel
    # And the mesh still works end to end (tenants -> auth -> tenants, lifecycle included).
    created = await mesh.create_tenant(f"rot-{uuid.uuid4().hex[:8]}")
    assert created.tenant_id


async def test_tenantctl_calls_the_services_over_mesh_tls_as_itself(
    mesh: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable, value in {
        "TENANTMESH_DATA_DIR": str(tmp_path),
        "TENANTMESH_MESH_TLS": "dev",
        "TENANTMESH_TENANTS_ADDR": mesh.runtime.addresses["tenants"],
        "TENANTMESH_AUTH_ADDR": mesh.runtime.addresses["auth"],
    }.items():
        monkeypatch.setenv(variable, value)
    key = mesh.runtime.service_api_key
    assert key is not None
    assert await tenantctl_run(tenantctl_parser().parse_args(["--api-key", key, "tenants", "list"])) == 0
    assert "platform" in capsys.readouterr().out
    # Without its certificate it cannot connect at all.
    tls_of(mesh).files_of("tenantctl").cert.unlink()
    with pytest.raises(SystemExit, match="no mesh certificate"):
        await tenantctl_run(tenantctl_parser().parse_args(["--api-key", key, "tenants", "list"]))
