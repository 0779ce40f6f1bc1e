"""The edge behind which everything is mutual TLS: Envoy reaches the services with its own
certificate, its view of the client is believed because it comes from the edge's identity, and
re-issued certificates are picked up without restarting Envoy (issue 13 §1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tenantmesh.auth.v1 import admin_service_pb2

from services.mesh.dev_mesh_tls import dev_ca, issue_dev_mesh_certificate
from services.mesh.runner import upstreams_for
from services.runtime.mesh_tls import EDGE, MeshTls
from tests.support.platform import Platform, bearer, platform

from .conftest import EdgeFactory, RunningEdge, edge_tls_of

pytestmark = pytest.mark.edge


@pytest.fixture
async def mesh(db_backend_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    async with platform(db_backend_url, tmp_path, mesh_tls=True) as running:
        yield running


@pytest.fixture
async def edge(mesh: Platform, tmp_path: Path, edge_factory: EdgeFactory) -> RunningEdge:
    return await edge_factory(upstreams_for(mesh.started, mesh.runtime.settings), mesh_tls=edge_tls_of(mesh, tmp_path))


def tls_of(mesh: Platform) -> MeshTls:
    tls = mesh.runtime.settings.mesh_tls
    assert tls is not None
    return tls


async def presented_serials(edge: RunningEdge) -> set[str]:
    """Serial numbers of the certificates Envoy holds right now (its admin /certs)."""
    status, text = await edge.envoy.admin_get("/certs")
    assert status == 200, text
    serials = set()
    for context in json.loads(text).get("certificates", []):
        for cert in context.get("cert_chain", []):
            # Hex of the DER integer: may carry a leading zero that format(n, "x") does not.
            serials.add(cert["serial_number"].lower().lstrip("0"))
    return serials


async def test_the_edge_view_of_the_client_reaches_the_services_over_mesh_tls(
    edge: RunningEdge, mesh: Platform
) -> None:
    request_id = f"edge-mtls-{uuid.uuid4().hex}"
    async with edge.https_client() as client:
        failed = await client.post(
            "/v1/auth:login",
            json={"tenant": "platform", "email": "nobody@example.test", "password": "not-the-password-1"},
            headers={"x-request-id": request_id, "x-tenantmesh-client-address": "203.0.113.7"},
        )
    assert failed.status_code == 401, failed.text
    audit = await mesh.admin_stub("AuditService").ListPlatformAuditEvents(
        admin_service_pb2.ListPlatformAuditEventsRequest(action_prefix="auth.login.failed", page_size=500),
        metadata=bearer(await mesh.admin_token()),
    )
    [entry] = [e for e in audit.audit_events if e.request_id == request_id]
    # Envoy's view of the test's connection, believed because the edge's certificate said so (a
    # header dropped for lack of identity would leave the gRPC peer, "ipv4:127.0.0.1:<port>").
    assert entry.client_address == "127.0.0.1"


async def test_envoy_picks_up_reissued_certificates_without_a_restart(edge: RunningEdge, mesh: Platform) -> None:
    tls = tls_of(mesh)
    ca = dev_ca(tls)
    before = await presented_serials(edge)
    reissued = issue_dev_mesh_certificate(tls, EDGE, ca, dt.datetime.now(dt.UTC))
    serial = format(reissued.serial_number, "x")
    assert serial not in before
    deadline = time.monotonic() + 15
    while serial not in await presented_serials(edge):
        assert time.monotonic() < deadline, "Envoy did not load the re-issued certificate"
        await asyncio.sleep(0.2)
    # The services' certificates rotate too; the edge keeps answering (its next connections
    # check the new ones against the same CA and identities).
    for name in ("tenants", "auth"):
        issue_dev_mesh_certificate(tls, name, ca, dt.datetime.now(dt.UTC))
    async with edge.https_client() as client:
        info = await client.get("/v1/meta/server-info")
    assert info.status_code == 200, info.text
    assert edge.envoy.returncode is None
