"""The server interceptor chain, end to end over real gRPC calls.

Servers are built with ``create_server`` (the production bootstrap) around
either throwaway servicers or the real tenants service bindings, with a test
authenticator standing in for JWT verification where a principal matters.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from enum import auto
from typing import Any

import grpc
import pytest
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.context import Principal, TenantContext
from services.runtime.errors import Reason, Unauthenticated
from services.runtime.interceptors.chain import IncomingCall
from services.runtime.logging import JsonFormatter
from services.runtime.meta import META_SERVICE, meta_binding
from services.runtime.server import RunningServer, ServiceBinding, create_server
from services.runtime.tenant_directory import TenantDirectory
from services.tenants.manager import TenantSpec
from tests.grpc.conftest import TenantWorld
from tests.support.errors import assert_error, error_info, expect_error, trailer
from tests.support.open_access import OpenAccessAuthenticator

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SECRET = "mysql://root:hunter2@db.internal/core"
GET_SERVER_INFO = "/tenantmesh.meta.v1.MetaService/GetServerInfo"


class FakeReason(Reason):
    CREDENTIALS_INVALID = auto()


class NoTenants:
    async def lookup(self, tenant_id: str) -> TenantContext | None:
        return None


class TokenAuthenticator:
    """Test credentials: ``authorization: Bearer <subject>;<tenant id or ->;<perm>,<perm>``."""

    async def authenticate(self, call: IncomingCall) -> Principal | None:
        header = call.metadata.get("authorization", "")
        if not header:
            return None
        if not header.startswith("Bearer "):
            raise Unauthenticated("malformed credentials", reason=FakeReason.CREDENTIALS_INVALID)
        subject, tenant_id, permissions = header.removeprefix("Bearer ").split(";")
        return Principal(
            subject=subject,
            tenant_id=None if tenant_id == "-" else tenant_id,
            permissions=frozenset(p for p in permissions.split(",") if p),
        )


def token(subject: str, tenant_id: str | None, *permissions: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {subject};{tenant_id or '-'};{','.join(permissions)}")


class BrokenMeta(meta_service_pb2_grpc.MetaServiceServicer):
    async def GetServerInfo(self, request: Any, context: Any) -> meta_service_pb2.GetServerInfoResponse:
        raise RuntimeError(f"could not connect to {SECRET}")


class MetaCallingOut(meta_service_pb2_grpc.MetaServiceServicer):
    """Answers by calling another service's MetaService at ``target``, as handlers call their dependencies."""

    def __init__(self, target: str) -> None:
        self._target = target

    async def GetServerInfo(self, request: Any, context: Any) -> meta_service_pb2.GetServerInfoResponse:
        async with grpc.aio.insecure_channel(self._target) as channel:
            stub = meta_service_pb2_grpc.MetaServiceStub(channel)
            response: meta_service_pb2.GetServerInfoResponse = await stub.GetServerInfo(request, timeout=2)
            return response


def unused_address() -> str:
    """An address nothing listens on (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


async def start(
    bindings: Sequence[ServiceBinding],
    *,
    authenticator: Any = None,
    directory: TenantDirectory | None = None,
) -> RunningServer:
    return await create_server(
        bindings,
        address="127.0.0.1:0",
        authenticator=authenticator or OpenAccessAuthenticator(),
        tenant_directory=directory or NoTenants(),
    )


@pytest.fixture
async def meta_server() -> AsyncIterator[tuple[RunningServer, Any]]:
    server = await start([meta_binding("9.9.9", [])])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield server, meta_service_pb2_grpc.MetaServiceStub(channel)
    await server.stop(0)


@pytest.fixture
async def broken_server() -> AsyncIterator[tuple[RunningServer, Any]]:
    binding = ServiceBinding(
        META_SERVICE, lambda server: meta_service_pb2_grpc.add_MetaServiceServicer_to_server(BrokenMeta(), server)
    )
    server = await start([binding])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield server, meta_service_pb2_grpc.MetaServiceStub(channel)
    await server.stop(0)


async def response_request_id(stub: Any, metadata: Sequence[tuple[str, str]] = ()) -> str:
    call = stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), metadata=metadata)
    await call
    # A unary call returns it in its trailers, as a failed call does (one batch per call).
    ids = [v for k, v in await call.trailing_metadata() if k == "x-request-id"]
    assert len(ids) == 1
    return str(ids[0])


# --------------------------------------------------------------------------- request id


async def test_request_id_is_minted_when_absent(meta_server: tuple[RunningServer, Any]) -> None:
    _, stub = meta_server
    first = await response_request_id(stub)
    second = await response_request_id(stub)
    assert UUID_RE.match(first)
    assert first != second


@pytest.mark.parametrize("sent", ["req-42", "0190a1b2-7c3d-7000-8000-abcdef012345", "a.b:c_d-e", "x" * 128])
async def test_valid_request_id_is_echoed(meta_server: tuple[RunningServer, Any], sent: str) -> None:
    _, stub = meta_server
    assert await response_request_id(stub, [("x-request-id", sent)]) == sent


@pytest.mark.parametrize("sent", ["has space", "a/b", 'quote"d', "{json}", "a;b=c", "x" * 129])
async def test_request_id_with_bad_characters_is_replaced(meta_server: tuple[RunningServer, Any], sent: str) -> None:
    _, stub = meta_server
    got = await response_request_id(stub, [("x-request-id", sent)])
    assert got != sent
    assert UUID_RE.match(got)


# --------------------------------------------------------------------------- unexpected errors


async def test_unexpected_exception_is_internal_without_internals(
    broken_server: tuple[RunningServer, Any],
) -> None:
    server, stub = broken_server
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    errors_log = logging.getLogger("tenantmesh.errors")
    errors_log.addHandler(handler)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), metadata=[("x-request-id", "boom-1")])
    finally:
        errors_log.removeHandler(handler)
    error = caught.value
    assert_error(error, grpc.StatusCode.INTERNAL, "INTERNAL")
    # Nothing of the exception reaches the caller: not its text, type or traceback.
    exposed = f"{error.details()} {error.debug_error_string()} {error.trailing_metadata()}"
    for leak in ("hunter2", SECRET, "RuntimeError", "Traceback", "broken_meta", __file__):
        assert leak not in exposed
    assert trailer(error, "x-request-id") == "boom-1"
    # ...but the operator finds it in the log under the caller's request id.
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["request_id"] for e in entries] == ["boom-1"]
    assert "RuntimeError" in entries[0]["exception"]
    stats = server.observer.stats[GET_SERVER_INFO]  # type: ignore[attr-defined]
    assert (stats.calls, stats.errors) == (1, 1)


async def test_a_dependency_that_cannot_be_reached_is_unavailable_not_internal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    binding = ServiceBinding(
        META_SERVICE,
        lambda server: meta_service_pb2_grpc.add_MetaServiceServicer_to_server(
            MetaCallingOut(unused_address()), server
        ),
    )
    server = await start([binding])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = meta_service_pb2_grpc.MetaServiceStub(channel)
            with caplog.at_level(logging.WARNING, "tenantmesh.errors"):
                await expect_error(
                    stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest()),
                    grpc.StatusCode.UNAVAILABLE,
                    "DEPENDENCY_UNAVAILABLE",
                )
    finally:
        await server.stop(0)
    # Retryable and expected when a service restarts: one warning line, no traceback.
    records = [r for r in caplog.records if r.name == "tenantmesh.errors"]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)]


async def test_a_dependency_that_answers_with_an_error_is_still_a_bug(
    broken_server: tuple[RunningServer, Any],
) -> None:
    # A dependency that answers, even with an error, is not an outage: the caller gets
    # INTERNAL and the log the traceback, as for any unexpected exception.
    dependency, _ = broken_server
    binding = ServiceBinding(
        META_SERVICE,
        lambda server: meta_service_pb2_grpc.add_MetaServiceServicer_to_server(
            MetaCallingOut(f"127.0.0.1:{dependency.port}"), server
        ),
    )
    server = await start([binding])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = meta_service_pb2_grpc.MetaServiceStub(channel)
            await expect_error(
                stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest()), grpc.StatusCode.INTERNAL, "INTERNAL"
            )
    finally:
        await server.stop(0)


async def test_failed_call_still_returns_its_request_id(broken_server: tuple[RunningServer, Any]) -> None:
    _, stub = broken_server
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetServerInfo(meta_service_pb2.GetServerInfoRequest())
    minted = trailer(caught.value, "x-request-id")
    assert isinstance(minted, str)
    assert UUID_RE.match(minted)


# --------------------------------------------------------------------------- authentication, authorization


@pytest.fixture
async def guarded(world: TenantWorld) -> AsyncIterator[Any]:
    """The real tenants service bindings behind a server that authenticates with test tokens."""
    bindings = list(world.mesh.app.bindings())
    bindings.append(meta_binding("9.9.9", [b.service_name for b in bindings]))
    server = await start(bindings, authenticator=TokenAuthenticator(), directory=world.mesh.app.tenant_directory())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield tenant_service_pb2_grpc.TenantServiceStub(channel), meta_service_pb2_grpc.MetaServiceStub(channel)
    await server.stop(0)


async def test_non_public_call_without_credentials_is_unauthenticated(world: TenantWorld, guarded: Any) -> None:
    tenants, meta = guarded
    await expect_error(
        tenants.ListTenants(pb.ListTenantsRequest()), grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING"
    )
    # Authentication comes before validation: no input rules are revealed to anonymous callers.
    bad = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="NOT VALID"))
    await expect_error(tenants.CreateTenant(bad), grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING")
    # Public calls need no credentials.
    info = await meta.GetServerInfo(meta_service_pb2.GetServerInfoRequest())
    assert info.product == "tenantmesh"


async def test_rejected_credentials_are_unauthenticated(world: TenantWorld, guarded: Any) -> None:
    tenants, meta = guarded
    await expect_error(
        tenants.ListTenants(pb.ListTenantsRequest(), metadata=[("authorization", "Basic abc")]),
        grpc.StatusCode.UNAUTHENTICATED,
        "CREDENTIALS_INVALID",
    )
    # Bad credentials are refused even on public calls.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await meta.GetServerInfo(meta_service_pb2.GetServerInfoRequest(), metadata=[("authorization", "Basic abc")])
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_principal_without_the_permission_is_denied(world: TenantWorld, guarded: Any) -> None:
    tenants, _ = guarded
    reader = token("ops", None, "tenants.tenants.list")
    listed = await tenants.ListTenants(pb.ListTenantsRequest(), metadata=[reader])
    assert list(listed.tenants) == []
    error = await expect_error(
        tenants.GetTenant(pb.GetTenantRequest(tenant_id=str(uuid.uuid4())), metadata=[reader]),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert error_info(error).metadata["permission"] == "tenants.tenants.get"
    # Authorization comes before validation too.
    bad = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="NOT VALID"))
    await expect_error(
        tenants.CreateTenant(bad, metadata=[reader]), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"
    )


async def test_tenant_principal_is_confined_to_its_tenant(world: TenantWorld, guarded: Any) -> None:
    tenants, _ = guarded
    first = await world.create(world.slug("mine"))
    second = await world.create(world.slug("theirs"))
    member = token("alice", first.tenant_id, "tenants.current.get")
    current = await tenants.GetCurrentTenant(
        pb.GetCurrentTenantRequest(), metadata=[member, ("x-tenant-id", first.tenant_id)]
    )
    assert current.tenant.tenant_id == first.tenant_id
    await expect_error(
        tenants.GetCurrentTenant(pb.GetCurrentTenantRequest(), metadata=[member, ("x-tenant-id", second.tenant_id)]),
        grpc.StatusCode.PERMISSION_DENIED,
        "TENANT_MISMATCH",
    )
    # Right tenant, missing permission.
    outsider = token("bob", first.tenant_id, "tenants.tenants.list")
    error = await expect_error(
        tenants.GetCurrentTenant(pb.GetCurrentTenantRequest(), metadata=[outsider, ("x-tenant-id", first.tenant_id)]),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert error_info(error).metadata["permission"] == "tenants.current.get"
    for tenant in (first, second):
        await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))


# --------------------------------------------------------------------------- tenant stage (real tenants service)


async def current(world: TenantWorld, tenant_id: str | None) -> pb.GetCurrentTenantResponse:
    metadata = [("x-tenant-id", tenant_id)] if tenant_id is not None else []
    response: pb.GetCurrentTenantResponse = await world.tenants.GetCurrentTenant(
        pb.GetCurrentTenantRequest(), metadata=metadata
    )
    return response


async def test_tenant_header_is_required(world: TenantWorld) -> None:
    for header in (None, ""):
        await expect_error(current(world, header), grpc.StatusCode.INVALID_ARGUMENT, "TENANT_HEADER_MISSING")


async def test_unknown_tenant_is_not_found(world: TenantWorld) -> None:
    await expect_error(current(world, str(uuid.uuid4())), grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND")


@pytest.mark.parametrize("tenant_id", ["not-a-uuid", "x" * 300])
async def test_a_header_that_is_no_tenant_id_says_what_it_takes(world: TenantWorld, tenant_id: str) -> None:
    await expect_error(current(world, tenant_id), grpc.StatusCode.INVALID_ARGUMENT, "TENANT_HEADER_INVALID")


async def test_tenant_state_is_enforced_and_cache_follows_events(world: TenantWorld) -> None:
    tenant = await world.create(world.slug("stage"))
    ok = await current(world, tenant.tenant_id)
    assert ok.tenant.tenant_id == tenant.tenant_id
    assert ok.schema_version

    await world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenant.tenant_id))
    await expect_error(current(world, tenant.tenant_id), grpc.StatusCode.FAILED_PRECONDITION, "TENANT_SUSPENDED")

    # No waiting for the cache TTL: the resume event drops the cached state.
    await world.tenants.ResumeTenant(pb.ResumeTenantRequest(tenant_id=tenant.tenant_id))
    assert (await current(world, tenant.tenant_id)).tenant.state == tenant_pb2.TENANT_STATE_ACTIVE

    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))
    await expect_error(current(world, tenant.tenant_id), grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND")


async def test_tenant_still_provisioning_is_not_ready(world: TenantWorld) -> None:
    tenant_id = await world.mesh.app.manager._insert(TenantSpec(slug=world.slug("early")), "")
    await expect_error(current(world, tenant_id), grpc.StatusCode.FAILED_PRECONDITION, "TENANT_NOT_READY")
    assert not await world.database_exists(world.slugs[-1])
