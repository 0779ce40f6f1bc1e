"""AuditService end to end: per tenant for tenant admins, platform-wide for platform admins, keyset paged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from tenantmesh.auth.v1 import admin_service_pb2 as pb
from tenantmesh.auth.v1 import user_pb2

from tests.support.auth_admin import AdminMesh, Caller, admin_mesh
from tests.support.errors import expect_error


@pytest.fixture
async def mesh(db_backend_url: str) -> AsyncIterator[AdminMesh]:
    async with admin_mesh(db_backend_url) as started:
        yield started


async def all_events(
    caller: Caller, *, platform: bool = False, page_size: int = 0, **filters: str
) -> list[user_pb2.AuditEvent]:
    rpc = caller.audit.ListPlatformAuditEvents if platform else caller.audit.ListAuditEvents
    request_type = pb.ListPlatformAuditEventsRequest if platform else pb.ListAuditEventsRequest
    events: list[user_pb2.AuditEvent] = []
    token = ""
    while True:
        page = await rpc(request_type(page_size=page_size, page_token=token, **filters))
        events.extend(page.audit_events)
        token = page.next_page_token
        if not token:
            return events


async def some_history(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    user = (await mesh.admin_a.create_user(roles=["auditor"])).user
    await mesh.admin_a.users.DisableUser(pb.DisableUserRequest(user_id=user.user_id))
    await mesh.admin_b.create_user()
    await mesh.admin_b.create_role("b-role", "auth.users.list")


async def test_tenant_admins_see_their_tenants_events_newest_first(mesh: AdminMesh) -> None:
    await some_history(mesh)
    events = await all_events(mesh.admin_a)
    assert sorted(e.action for e in events) == [
        "auth.role.created",
        "auth.user.created",
        "auth.user.disabled",
    ]
    assert {e.tenant_id for e in events} == {mesh.tenant_a}
    ids = [e.audit_event_id for e in events]
    assert ids == sorted(ids, reverse=True)
    assert {e.actor for e in events} == {mesh.subject("admin-a")}
    assert all(e.client_address and e.create_time.seconds for e in events)
    assert sorted(e.action for e in await all_events(mesh.admin_b)) == ["auth.role.created", "auth.user.created"]


async def test_paging_and_action_prefix(mesh: AdminMesh) -> None:
    await some_history(mesh)
    for _ in range(3):
        await mesh.admin_a.create_user()
    everything = await all_events(mesh.admin_a)
    assert len(everything) == 6
    assert await all_events(mesh.admin_a, page_size=2) == everything
    users = await all_events(mesh.admin_a, page_size=1, action_prefix="auth.user.")
    assert [e.audit_event_id for e in users] == [
        e.audit_event_id for e in everything if e.action.startswith("auth.user.")
    ]
    assert await all_events(mesh.admin_a, action_prefix="auth.%") == []

    first = await mesh.admin_a.audit.ListAuditEvents(pb.ListAuditEventsRequest(page_size=1))
    await expect_error(
        mesh.admin_a.audit.ListAuditEvents(
            pb.ListAuditEventsRequest(page_size=1, page_token=first.next_page_token, action_prefix="auth.role")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    # A token of tenant A's log does not continue in tenant B's.
    await expect_error(
        mesh.admin_b.audit.ListAuditEvents(pb.ListAuditEventsRequest(page_size=1, page_token=first.next_page_token)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )


async def test_request_id_and_details_are_recorded(mesh: AdminMesh) -> None:
    await mesh.admin_a.users.CreateUser(
        pb.CreateUserRequest(user=user_pb2.User(email="traced@example.test"), password="a long enough secret"),
        metadata=(("x-request-id", "req-audit-1"),),
    )
    (event,) = await all_events(mesh.admin_a)
    assert event.request_id == "req-audit-1"
    assert dict(event.details) == {"roles": "member"}
    assert "a long enough secret" not in str(event)


async def test_the_platform_log_spans_tenants_for_platform_admins_only(mesh: AdminMesh) -> None:
    await some_history(mesh)
    platform = mesh.caller("platform")
    events = await all_events(platform, platform=True, page_size=2)
    assert {e.tenant_id for e in events} == {mesh.tenant_a, mesh.tenant_b}
    assert len(events) == 5
    ids = [e.audit_event_id for e in events]
    assert ids == sorted(ids, reverse=True)
    only_b = await all_events(platform, platform=True, tenant_id=mesh.tenant_b)
    assert [e.audit_event_id for e in only_b] == [e.audit_event_id for e in events if e.tenant_id == mesh.tenant_b]
    roles = await all_events(platform, platform=True, action_prefix="auth.role.")
    assert len(roles) == 2

    await expect_error(
        mesh.admin_a.audit.ListPlatformAuditEvents(pb.ListPlatformAuditEventsRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )


async def test_members_cannot_read_the_log(mesh: AdminMesh) -> None:
    await expect_error(
        mesh.member_a.audit.ListAuditEvents(pb.ListAuditEventsRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
