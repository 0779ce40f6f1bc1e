"""One REST call through a real Envoy is one trace: edge -> service -> other service -> SQL.

Envoy's OpenTelemetry tracer and the services export to the same real OTLP receiver the test
starts; no incoming traceparent, so the edge's span is the root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from services.mesh.runner import upstreams_for
from tests.edge.conftest import EdgeFactory, RunningEdge
from tests.support.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver, tracing_environment
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform, platform

SERVER = trace_pb2.Span.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT


@dataclass
class TracedEdge:
    mesh: Platform
    edge: RunningEdge
    receiver: OtlpReceiver


@pytest.fixture
async def traced(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> AsyncIterator[TracedEdge]:
    async with (
        otlp_receiver() as receiver,
        platform(db_backend_url, tmp_path, tracing_environment(receiver)) as mesh,
    ):
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            tracing_collector=f"127.0.0.1:{receiver.port}",
            tracing_sample_percent=100.0,
        )
        yield TracedEdge(mesh, edge, receiver)


def ancestors(receiver: OtlpReceiver, span: ReceivedSpan) -> list[ReceivedSpan]:
    by_id = {s.span_id: s for s in receiver.trace(span.trace_id)}
    chain = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


async def test_a_rest_call_is_one_trace_from_the_edge_to_sql(traced: TracedEdge) -> None:
    receiver = traced.receiver
    tenant = await traced.mesh.create_tenant("edgetraced")
    async with traced.edge.https_client() as anonymous:
        login = await anonymous.post(
            "/v1/auth:login", json={"tenant": "platform", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        token = login.json()["tokens"]["accessToken"]
    headers = {"authorization": f"Bearer {token}", "x-tenant-id": tenant.tenant_id, "x-request-id": "edge-trace-1"}
    async with traced.edge.https_client(headers=headers) as client:
        # auth serves it; auth has not seen the tenant yet, so it asks the tenants service.
        response = await client.get("/v1/users")
        assert response.status_code == 200, response.text

    service = await receiver.wait_for(
        lambda s: s.name == "/tenantmesh.auth.v1.UserService/ListUsers" and s.kind == SERVER
    )
    assert service.parent_span_id, "the service span has no parent: traceparent did not cross the edge"
    # Envoy exports in batches (every few seconds).
    await receiver.wait_for(lambda s: s.span_id == service.parent_span_id)
    edge = ancestors(receiver, service)[-1]
    assert edge.is_root
    assert edge.service == "tenantmesh-edge"
    assert service.attributes["tenantmesh.request_id"] == "edge-trace-1"
    assert service.attributes["tenantmesh.tenant_id"] == tenant.tenant_id

    other = await receiver.wait_for(
        lambda s: s.trace_id == edge.trace_id and s.service == "tenantmesh-tenants" and s.kind == SERVER
    )
    assert service in ancestors(receiver, other)
    await receiver.wait_for(
        lambda s: s.trace_id == edge.trace_id and other in ancestors(receiver, s) and "db.system" in s.attributes
    )

    for span in receiver.trace(edge.trace_id):
        for value in span.attributes.values():
            assert token not in str(value), (span.service, span.name)
            assert ADMIN_PASSWORD not in str(value), (span.service, span.name)
