"""MembershipService end to end: add (platform administrators only), list, update (roles, title),
remove; revocation after commit; isolation; the home membership stays."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.auth.v1 import admin_service_pb2 as pb
from tenantmesh.auth.v1 import user_pb2

from services.auth.models import AuditEventRow, MembershipRow, UserRow
from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.auth_admin import AdminMesh, admin_mesh, issued_before_now, unique_email
from tests.support.errors import expect_error, violation_fields


@pytest.fixture
async def mesh(db_backend_url: str) -> AsyncIterator[AdminMesh]:
    async with admin_mesh(db_backend_url) as started:
        yield started


def update_request(user_id: str, *roles: str, etag: str = "") -> pb.UpdateMembershipRequest:
    return pb.UpdateMembershipRequest(membership=user_pb2.Membership(user_id=user_id, roles=roles, etag=etag))


async def test_a_platform_admin_adds_an_existing_identity_explicitly_and_audited(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    added = (
        await mesh.platform(mesh.tenant_b).memberships.AddMembership(
            pb.AddMembershipRequest(user_id=user.user_id, roles=["tenant-admin"])
        )
    ).membership
    assert (added.user_id, added.email, added.tenant_id) == (user.user_id, user.email, mesh.tenant_b)
    assert list(added.roles) == ["tenant-admin"]
    assert added.etag == "1"
    seen = (await mesh.admin_b.users.GetUser(pb.GetUserRequest(user_id=user.user_id))).user
    assert (seen.email, seen.external) == (user.email, True)
    assert not (await mesh.admin_a.users.GetUser(pb.GetUserRequest(user_id=user.user_id))).user.external
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.membership.added")
    assert (event.tenant_id, event.target, event.actor) == (
        mesh.tenant_b,
        f"user:{user.user_id}",
        mesh.subject("platform"),
    )
    assert '"via": "platform-admin"' in event.details_json


async def test_tenant_admins_cannot_add_anyone_by_themselves(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    before = await mesh.counts()
    for user_id in (user.user_id, "01900000-0000-7000-8000-000000000000"):
        # The same refusal whether or not the id names someone: nothing about tenant A shows.
        await expect_error(
            mesh.admin_b.memberships.AddMembership(pb.AddMembershipRequest(user_id=user_id)),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        )
    assert await mesh.counts() == before


async def test_add_membership_defaults_to_member(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    added = (
        await mesh.platform(mesh.tenant_b).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id))
    ).membership
    assert list(added.roles) == ["member"]


async def test_add_membership_errors_write_nothing(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    operator = (await mesh.platform(PLATFORM_TENANT_ID).create_user(roles=["platform-admin"])).user
    platform_b = mesh.platform(mesh.tenant_b)
    # B already has a member using the address (made by B itself).
    namesake = (await mesh.admin_a.create_user()).user
    await mesh.admin_b.create_user(namesake.email)
    before = await mesh.counts()
    await expect_error(
        platform_b.memberships.AddMembership(pb.AddMembershipRequest(user_id="01900000-0000-7000-8000-000000000000")),
        grpc.StatusCode.NOT_FOUND,
        "USER_NOT_FOUND",
    )
    error = await expect_error(
        platform_b.memberships.AddMembership(pb.AddMembershipRequest(email=unique_email())),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert "email" in violation_fields(error)
    await expect_error(
        mesh.platform(mesh.tenant_a).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id)),
        grpc.StatusCode.ALREADY_EXISTS,
        "MEMBERSHIP_EXISTS",
    )
    await expect_error(
        platform_b.memberships.AddMembership(pb.AddMembershipRequest(user_id=namesake.user_id)),
        grpc.StatusCode.ALREADY_EXISTS,
        "USER_EMAIL_TAKEN",
    )
    # Operators' own identities never join a tenant, not even by a platform administrator.
    await expect_error(
        platform_b.memberships.AddMembership(pb.AddMembershipRequest(user_id=operator.user_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PLATFORM_IDENTITY_NOT_JOINABLE",
    )
    error = await expect_error(
        platform_b.memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id, roles=["ghost"])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ROLE_NOT_FOUND",
    )
    assert violation_fields(error) == {"roles"}
    await expect_error(
        platform_b.memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id, roles=["platform-admin"])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ROLE_NOT_FOUND",
    )
    assert await mesh.counts() == before


async def test_nobody_grants_permissions_they_do_not_hold(mesh: AdminMesh) -> None:
    # A help desk that may manage memberships, but is no tenant administrator.
    helpdesk = mesh.principal(
        "helpdesk",
        mesh.tenant_a,
        roles=["member"],
        permissions=["auth.memberships.update", "auth.users.create"],
    )
    desk = mesh.caller(helpdesk)
    user = (await mesh.admin_a.create_user()).user
    before = await mesh.counts()
    await expect_error(
        desk.create_user(roles=["tenant-admin"]), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_ESCALATION"
    )
    await expect_error(
        desk.memberships.UpdateMembership(update_request(user.user_id, "tenant-admin")),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_ESCALATION",
    )
    assert await mesh.counts() == before


async def test_list_memberships_pages_through_this_tenant_only(mesh: AdminMesh) -> None:
    mine = [(await mesh.admin_a.create_user(roles=["member"])).user for _ in range(3)]
    await mesh.admin_b.create_user()
    seen: list[user_pb2.Membership] = []
    token = ""
    while True:
        page = await mesh.admin_a.memberships.ListMemberships(pb.ListMembershipsRequest(page_size=2, page_token=token))
        seen.extend(page.memberships)
        token = page.next_page_token
        if not token:
            break
    assert [m.user_id for m in seen] == sorted(u.user_id for u in mine)
    assert {m.tenant_id for m in seen} == {mesh.tenant_a}
    assert {m.email for m in seen} == {u.email for u in mine}
    await expect_error(
        mesh.admin_a.memberships.ListMemberships(pb.ListMembershipsRequest(page_token="x" * 20)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )


async def test_update_membership_replaces_roles_then_revokes_the_members_tokens_in_that_tenant(
    mesh: AdminMesh,
) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    user = (await mesh.admin_a.create_user()).user
    await mesh.platform(mesh.tenant_b).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id))
    subject = f"user:{user.user_id}"
    issued = issued_before_now()

    updated = (
        await mesh.admin_a.memberships.UpdateMembership(update_request(user.user_id, "auditor", "member", etag="1"))
    ).membership
    assert list(updated.roles) == ["auditor", "member"]
    assert updated.etag == "2"
    assert updated.email == user.email
    assert mesh.token_revoked(subject, mesh.tenant_a, issued)
    assert not mesh.token_revoked(subject, mesh.tenant_b, issued)
    # A token issued after the change (a new login) works.
    assert not mesh.token_revoked(subject, mesh.tenant_a, issued + 3)
    (row,) = await mesh.rows(
        MembershipRow, MembershipRow.tenant_id == mesh.tenant_a, MembershipRow.user_id == user.user_id
    )
    assert row.revision == 2
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.membership.updated")
    assert event.details_json == '{"fields": "roles", "roles": "auditor,member"}'


async def test_update_membership_errors_change_and_revoke_nothing(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    stranger = (await mesh.admin_b.create_user()).user
    await mesh.admin_a.memberships.UpdateMembership(update_request(user.user_id, "tenant-admin"))
    assert mesh.revoked() == [("subject", f"user:{user.user_id}", mesh.tenant_a)]
    before = await mesh.counts()
    await expect_error(
        mesh.admin_a.memberships.UpdateMembership(update_request(user.user_id, "member", etag="1")),
        grpc.StatusCode.ABORTED,
        "ETAG_MISMATCH",
    )
    error = await expect_error(
        mesh.admin_a.memberships.UpdateMembership(update_request(user.user_id, "ghost")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ROLE_NOT_FOUND",
    )
    assert violation_fields(error) == {"membership.roles"}
    for user_id in (stranger.user_id, "01900000-0000-7000-8000-000000000000"):
        await expect_error(
            mesh.admin_a.memberships.UpdateMembership(update_request(user_id, "member")),
            grpc.StatusCode.NOT_FOUND,
            "MEMBERSHIP_NOT_FOUND",
        )
    assert await mesh.counts() == before
    (row,) = await mesh.rows(
        MembershipRow, MembershipRow.tenant_id == mesh.tenant_a, MembershipRow.user_id == user.user_id
    )
    assert (row.roles_json, row.revision) == ('["tenant-admin"]', 2)
    # The failures revoked nothing more.
    assert len(mesh.revoked()) == 1


async def test_update_membership_to_the_same_roles_is_a_no_op(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    issued = issued_before_now()
    same = (
        await mesh.admin_a.memberships.UpdateMembership(update_request(user.user_id, "member", etag="1"))
    ).membership
    assert same.etag == "1"
    assert not mesh.token_revoked(f"user:{user.user_id}", mesh.tenant_a, issued)
    assert mesh.revoked() == []


async def test_update_membership_title_is_tenant_local_and_revokes_nothing(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    await mesh.platform(mesh.tenant_b).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id))
    issued = issued_before_now()
    titled = (
        await mesh.admin_b.memberships.UpdateMembership(
            pb.UpdateMembershipRequest(
                membership=user_pb2.Membership(user_id=user.user_id, title="Auditor", etag="1"),
                update_mask=field_mask_pb2.FieldMask(paths=["title"]),
            )
        )
    ).membership
    assert (titled.title, list(titled.roles), titled.etag) == ("Auditor", ["member"], "2")
    assert mesh.revoked() == []
    assert not mesh.token_revoked(f"user:{user.user_id}", mesh.tenant_b, issued)
    # Tenant A's view of the person is untouched.
    (home,) = await mesh.rows(
        MembershipRow, MembershipRow.tenant_id == mesh.tenant_a, MembershipRow.user_id == user.user_id
    )
    assert (home.title, home.revision) == ("", 1)
    error = await expect_error(
        mesh.admin_b.memberships.UpdateMembership(
            pb.UpdateMembershipRequest(
                membership=user_pb2.Membership(user_id=user.user_id),
                update_mask=field_mask_pb2.FieldMask(paths=["email"]),
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"update_mask"}


async def test_remove_membership_keeps_the_user_and_revokes_in_that_tenant(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    await mesh.platform(mesh.tenant_b).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id))
    issued = issued_before_now()
    subject = f"user:{user.user_id}"

    await mesh.admin_b.memberships.RemoveMembership(pb.RemoveMembershipRequest(user_id=user.user_id))
    assert mesh.token_revoked(subject, mesh.tenant_b, issued)
    assert not mesh.token_revoked(subject, mesh.tenant_a, issued)
    assert mesh.revoked() == [("subject", subject, mesh.tenant_b)]
    await expect_error(
        mesh.admin_b.users.GetUser(pb.GetUserRequest(user_id=user.user_id)), grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND"
    )
    assert (await mesh.admin_a.users.GetUser(pb.GetUserRequest(user_id=user.user_id))).user.user_id == user.user_id
    assert len(await mesh.rows(UserRow, UserRow.user_id == user.user_id)) == 1
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.membership.removed")
    assert (event.tenant_id, event.target) == (mesh.tenant_b, subject)

    before = await mesh.counts()
    await expect_error(
        mesh.admin_b.memberships.RemoveMembership(pb.RemoveMembershipRequest(user_id=user.user_id)),
        grpc.StatusCode.NOT_FOUND,
        "MEMBERSHIP_NOT_FOUND",
    )
    assert await mesh.counts() == before


async def test_the_home_membership_cannot_be_removed(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    before = await mesh.counts()
    await expect_error(
        mesh.admin_a.memberships.RemoveMembership(pb.RemoveMembershipRequest(user_id=user.user_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "HOME_MEMBERSHIP",
    )
    assert await mesh.counts() == before
    assert mesh.revoked() == []


async def test_remove_membership_cannot_reach_another_tenant(mesh: AdminMesh) -> None:
    user = (await mesh.admin_b.create_user()).user
    await expect_error(
        mesh.admin_a.memberships.RemoveMembership(pb.RemoveMembershipRequest(user_id=user.user_id)),
        grpc.StatusCode.NOT_FOUND,
        "MEMBERSHIP_NOT_FOUND",
    )
    assert len(await mesh.rows(MembershipRow, MembershipRow.user_id == user.user_id)) == 1
    assert mesh.revoked() == []


async def test_only_identities_homed_in_the_platform_tenant_are_its_members(mesh: AdminMesh) -> None:
    # A tenant's administrators set the passwords of the people homed there: one of them holding a
    # role in the platform tenant would hand the platform to that tenant's administrators.
    user = (await mesh.admin_a.create_user()).user
    before = await mesh.counts()
    for roles in (["platform-admin"], ["member"]):
        await expect_error(
            mesh.platform(PLATFORM_TENANT_ID).memberships.AddMembership(
                pb.AddMembershipRequest(user_id=user.user_id, roles=roles)
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "PLATFORM_TENANT_NOT_JOINABLE",
        )
    assert await mesh.counts() == before
