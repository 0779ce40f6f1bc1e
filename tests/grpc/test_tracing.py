"""Traces: one call that crosses two services and the database is one trace with the right tree.

A real OTLP receiver (tests/support/otlp.py) takes what the processes export; the test reads
the tree back from it. CreateTenant is served by tenants, which asks auth (a service-to-service
call) to provision its schema in the new tenant database, and writes an event to the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb

from services.runtime.events import Event
from tests.support.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver, tracing_environment
from tests.support.platform import ADMIN_PASSWORD, Platform, bearer, platform

SERVER = trace_pb2.Span.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT
CONSUMER = trace_pb2.Span.SPAN_KIND_CONSUMER
CREATE_TENANT = "/tenantmesh.tenants.v1.TenantService/CreateTenant"
LIST_USERS = "/tenantmesh.auth.v1.UserService/ListUsers"
GET_TENANT = "/tenantmesh.tenants.v1.TenantService/GetTenant"


@pytest.fixture
async def traced(db_backend_url: str, tmp_path: Path) -> AsyncIterator[tuple[Platform, OtlpReceiver]]:
    async with (
        otlp_receiver() as receiver,
        platform(db_backend_url, tmp_path, tracing_environment(receiver)) as mesh,
    ):
        yield mesh, receiver


def ancestors(receiver: OtlpReceiver, span: ReceivedSpan) -> list[ReceivedSpan]:
    by_id = {s.span_id: s for s in receiver.trace(span.trace_id)}
    chain = []
    while span.parent_span_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


async def test_a_call_across_two_services_is_one_trace_down_to_sql(traced: tuple[Platform, OtlpReceiver]) -> None:
    mesh, receiver = traced
    token = await mesh.admin_token()
    tenant = await mesh.create_tenant("traced")
    # auth has never seen the new tenant: its tenant stage asks the tenants service (a
    # service-to-service call), which reads the core database.
    await mesh.admin_stub("UserService").ListUsers(
        admin_pb.ListUsersRequest(),
        metadata=(*bearer(token), ("x-tenant-id", tenant.tenant_id), ("x-request-id", "req-traced-1")),
    )

    root = await receiver.wait_for(lambda s: s.name == LIST_USERS and s.kind == SERVER)
    assert root.service == "tenantmesh-auth"
    assert root.is_root  # the test called without a trace context
    assert root.attributes["rpc.system"] == "grpc"
    assert root.attributes["rpc.grpc.status_code"] == 0
    assert root.attributes["tenantmesh.request_id"] == "req-traced-1"
    assert root.attributes["tenantmesh.tenant_id"] == tenant.tenant_id
    assert root.attributes["tenantmesh.principal.kind"] == "user"

    lookup = await receiver.wait_for(
        lambda s: s.trace_id == root.trace_id and s.service == "tenantmesh-tenants" and s.kind == SERVER
    )
    assert lookup.name.startswith("/tenantmesh.tenants.v1.TenantService/")
    client = next(s for s in receiver.trace(root.trace_id) if s.span_id == lookup.parent_span_id)
    assert client.kind == CLIENT
    assert ancestors(receiver, client)[-1] == root
    assert lookup.attributes["tenantmesh.request_id"] == "req-traced-1"  # carried across the hop
    sql = await receiver.wait_for(
        lambda s: s.trace_id == root.trace_id and lookup in ancestors(receiver, s) and "db.system" in s.attributes
    )
    assert sql.kind == CLIENT

    # Provisioning ran statements in the new tenant's own database: its spans name it.
    create = await receiver.wait_for(lambda s: s.name == CREATE_TENANT and s.kind == SERVER)
    await receiver.wait_for(
        lambda s: s.trace_id == create.trace_id and str(s.attributes.get("db.namespace", "")).endswith("_traced")
    )

    # No credential in any attribute of any span.
    secrets = (token, ADMIN_PASSWORD, mesh.runtime.service_api_key or "<none>")
    for span in receiver.spans:
        for value in span.attributes.values():
            assert not any(secret in str(value) for secret in secrets), (span.name, value)


async def test_an_event_consumer_span_links_to_the_span_that_wrote_the_event(
    traced: tuple[Platform, OtlpReceiver],
) -> None:
    mesh, receiver = traced
    handled: list[Event] = []

    async def handler(event: Event) -> None:
        handled.append(event)

    mesh.runtime.events.subscribe_group("trace-test", "tenant.created", handler)
    await mesh.create_tenant("linked")
    root = await receiver.wait_for(lambda s: s.name == CREATE_TENANT and s.kind == SERVER)
    consumer = await receiver.wait_for(
        lambda s: s.kind == CONSUMER and s.attributes.get("messaging.consumer.group.name") == "trace-test"
    )
    assert handled
    assert consumer.is_root  # a trace of its own...
    linked_trace, linked_span = consumer.links[0]
    assert linked_trace == root.trace_id  # ...linked to the request that wrote the event
    writer = next(s for s in receiver.trace(root.trace_id) if s.span_id == linked_span)
    assert writer is root or root in ancestors(receiver, writer)


async def test_a_trace_the_caller_did_not_sample_records_nothing_anywhere(
    traced: tuple[Platform, OtlpReceiver],
) -> None:
    mesh, receiver = traced
    token = await mesh.admin_token()
    tenant = await mesh.create_tenant("unsampled")
    unsampled_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    metadata = (*bearer(token), ("x-tenant-id", tenant.tenant_id))
    await receiver.wait_for(lambda s: s.name == CREATE_TENANT)
    before = await receiver.settle()
    # auth -> tenants (a new tenant for auth): two services, neither may record the trace, nor
    # start one of its own (the decision travels with the traceparent to the next service).
    await mesh.admin_stub("UserService").ListUsers(
        admin_pb.ListUsersRequest(), metadata=(*metadata, ("traceparent", f"00-{unsampled_trace}-00f067aa0ba902b7-00"))
    )
    # A sampled call afterwards: once its spans arrive, anything of the first call would have too.
    await mesh.admin_stub("UserService").ListUsers(admin_pb.ListUsersRequest(), metadata=metadata)
    sampled = await receiver.wait_for(lambda s: s.name == LIST_USERS and s.trace_id != unsampled_trace)
    assert {s.trace_id for s in receiver.spans[before:]} == {sampled.trace_id}


async def test_a_callers_mistake_is_recorded_with_its_code_but_not_as_a_server_error(
    traced: tuple[Platform, OtlpReceiver],
) -> None:
    mesh, receiver = traced
    token = await mesh.admin_token()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.tenants.GetTenant(tenants_pb.GetTenantRequest(tenant_id=str(uuid.uuid4())), metadata=bearer(token))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    not_found = grpc.StatusCode.NOT_FOUND.value[0]
    span = await receiver.wait_for(
        lambda s: s.name == GET_TENANT and s.kind == SERVER and s.attributes.get("rpc.grpc.status_code") == not_found
    )
    assert span.attributes["tenantmesh.principal.kind"] == "user"
    assert span.status_code != trace_pb2.Status.STATUS_CODE_ERROR
