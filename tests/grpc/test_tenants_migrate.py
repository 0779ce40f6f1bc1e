"""MigrateTenantDatabases: every tenant database to head, bounded, resumable, past broken tenants."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2 as lifecycle_pb
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2_grpc as lifecycle_grpc
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from tests.grpc.conftest import TenantWorld, placement
from tests.support.errors import error_info, expect_error, violation_fields

HEAD = "tenants_tenant_0001"


async def migrate(
    world: TenantWorld, concurrency: int = 2, tenant_ids: Sequence[str] = ()
) -> list[pb.MigrateTenantDatabasesResponse]:
    request = pb.MigrateTenantDatabasesRequest(concurrency=concurrency, tenant_ids=tenant_ids)
    return [message async for message in world.tenants.MigrateTenantDatabases(request)]


async def create_five(world: TenantWorld) -> list[tenant_pb2.Tenant]:
    return [await world.create(world.slug("mig")) for _ in range(5)]


async def delete_all(world: TenantWorld, tenants: Sequence[tenant_pb2.Tenant]) -> None:
    for tenant in tenants:
        await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant.tenant_id))


def assert_progress(messages: Sequence[pb.MigrateTenantDatabasesResponse], total: int) -> None:
    assert [m.completed for m in messages] == list(range(1, total + 1))
    assert {m.total for m in messages} == {total}


async def test_migrates_every_tenant_and_is_safe_to_rerun(world: TenantWorld) -> None:
    tenants = await create_five(world)
    await world.tenants.SuspendTenant(pb.SuspendTenantRequest(tenant_id=tenants[0].tenant_id))
    gone = await world.create(world.slug("gone"))
    await world.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=gone.tenant_id))

    for _ in range(2):
        messages = await migrate(world, concurrency=2)
        assert len(messages) == 5
        assert_progress(messages, 5)
        assert sorted(m.tenant_id for m in messages) == sorted(t.tenant_id for t in tenants)
        assert {m.tenant_id: m.slug for m in messages} == {t.tenant_id: t.slug for t in tenants}
        for message in messages:
            assert message.ok
            assert [(s.service, s.schema_version, s.error_reason) for s in message.services] == [("tenants", HEAD, "")]
    for tenant in tenants:
        assert (await world.get(tenant.tenant_id)).provisioning.steps[1].schema_version == HEAD
    await delete_all(world, tenants)


async def test_only_the_named_tenants(world: TenantWorld) -> None:
    tenants = await create_five(world)
    messages = await migrate(world, tenant_ids=[tenants[3].tenant_id])
    assert [(m.tenant_id, m.completed, m.total, m.ok) for m in messages] == [(tenants[3].tenant_id, 1, 1, True)]
    await delete_all(world, tenants)


async def test_a_named_tenant_that_cannot_be_migrated_stops_the_run_before_it_starts(world: TenantWorld) -> None:
    """An unknown or deleted id is named in the refusal: it reported "migrated 0 of 0", as done."""
    tenants = await create_five(world)
    gone = tenants.pop()
    await delete_all(world, [gone])
    named = [tenants[0].tenant_id, str(uuid.uuid4()), gone.tenant_id]
    error = await expect_error(migrate(world, tenant_ids=named), grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND")
    assert error_info(error).metadata["tenant_ids"] == f"{named[1]},{named[2]}"
    # Nothing ran: the tenant that could have been migrated was not touched either.
    assert (await world.get(tenants[0].tenant_id)).provisioning.steps[1].schema_version == HEAD
    await delete_all(world, tenants)


async def test_a_broken_tenant_does_not_stop_the_others(world: TenantWorld) -> None:
    tenants = await create_five(world)
    broken = tenants[2]
    # Someone dropped the database behind the platform's back.
    await world.mesh.runtime.db.drop_tenant_database(placement(broken))

    for _ in range(2):  # and re-running reports it again without harming the rest
        messages = await migrate(world, concurrency=2)
        assert len(messages) == 5
        assert_progress(messages, 5)
        by_id = {m.tenant_id: m for m in messages}
        failed = by_id.pop(broken.tenant_id)
        assert not failed.ok
        assert [s.service for s in failed.services] == ["tenants"]
        assert failed.services[0].error_reason
        assert failed.services[0].schema_version == ""
        assert all(m.ok for m in by_id.values())
        assert sorted(by_id) == sorted(t.tenant_id for t in tenants if t is not broken)
    # Nothing recreated the dropped database on the side.
    assert not await world.database_exists(broken)
    await delete_all(world, tenants)


async def test_invalid_concurrency_is_refused(world: TenantWorld) -> None:
    for request in (
        pb.MigrateTenantDatabasesRequest(concurrency=65),
        pb.MigrateTenantDatabasesRequest(concurrency=-1),
    ):
        error = await expect_error(
            migrate(world, concurrency=request.concurrency), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"
        )
        assert violation_fields(error) == {"concurrency"}
    error = await expect_error(
        migrate(world, tenant_ids=["not-a-uuid"]), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"
    )
    assert violation_fields(error) == {"tenant_ids[0]"}


@dataclass
class SlowForms(lifecycle_grpc.TenantLifecycleServiceServicer):
    """A participant that joined after the tenants were created; counts concurrent calls."""

    in_flight: int = 0
    peak: int = 0
    calls: int = 0

    async def ProvisionTenant(self, request: Any, context: Any) -> lifecycle_pb.ProvisionTenantResponse:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.05)
        finally:
            self.in_flight -= 1
        return lifecycle_pb.ProvisionTenantResponse(service="forms", schema_version="forms_0001")

    async def DeprovisionTenant(self, request: Any, context: Any) -> lifecycle_pb.DeprovisionTenantResponse:
        return lifecycle_pb.DeprovisionTenantResponse(service="forms")


@pytest.fixture
async def slow_forms() -> AsyncIterator[tuple[SlowForms, int]]:
    servicer = SlowForms()
    server = grpc.aio.server()
    lifecycle_grpc.add_TenantLifecycleServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, port
    await server.stop(0)


async def test_new_participant_is_rolled_out_with_bounded_concurrency(
    world_factory: Any, slow_forms: tuple[SlowForms, int]
) -> None:
    before: TenantWorld = await world_factory()
    tenants = await create_five(before)
    servicer, port = slow_forms
    after: TenantWorld = await world_factory(
        {"TENANTMESH_LIFECYCLE_SERVICES": "tenants,forms", "TENANTMESH_FORMS_ADDR": f"127.0.0.1:{port}"}
    )
    messages = await migrate(after, concurrency=2)
    assert_progress(messages, 5)
    assert all(m.ok for m in messages)
    assert servicer.calls == 5
    assert servicer.peak == 2
    for tenant in tenants:
        steps = [(s.name, s.state, s.schema_version) for s in (await after.get(tenant.tenant_id)).provisioning.steps]
        assert steps[-1] == ("forms", tenant_pb2.STEP_STATE_DONE, "forms_0001")
    await delete_all(after, tenants)
