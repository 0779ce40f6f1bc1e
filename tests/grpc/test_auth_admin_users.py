"""UserService end to end: create, get, list, update, disable; tenant isolation; no partial state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.auth.v1 import admin_service_pb2 as pb
from tenantmesh.auth.v1 import user_pb2

from services.auth.models import AuditEventRow, MembershipRow, UserRow
from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.auth_admin import PASSWORD, AdminMesh, admin_mesh, issued_before_now, unique_email
from tests.support.errors import assert_error, error_info, expect_error, violation_fields
from tests.support.secrets import assert_not_disclosed

# Too short (and nothing a message would say by chance): the refusal must not echo it.
WEAK = "Wk7!zq"


@pytest.fixture
async def mesh(db_backend_url: str) -> AsyncIterator[AdminMesh]:
    async with admin_mesh(db_backend_url) as started:
        yield started


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def test_create_user_makes_a_member_with_default_role_in_one_audited_write(mesh: AdminMesh) -> None:
    email = unique_email("Ada")
    created = await mesh.admin_a.create_user(email.upper(), display_name="Ada Lovelace")

    user, membership = created.user, created.membership
    assert user.email == email.lower()
    assert user.display_name == "Ada Lovelace"
    assert not user.disabled
    assert user.etag == "1"
    assert user.create_time.seconds > 0
    assert membership.user_id == user.user_id
    assert membership.tenant_id == mesh.tenant_a
    assert list(membership.roles) == ["member"]
    assert membership.email == user.email
    (row,) = await mesh.rows(UserRow, UserRow.user_id == user.user_id)
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.user.created")
    assert event.tenant_id == mesh.tenant_a
    assert event.actor == mesh.subject("admin-a")
    assert event.target == f"user:{user.user_id}"


async def test_create_user_with_built_in_and_custom_roles(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    created = await mesh.admin_a.create_user(roles=["tenant-admin", "auditor", "auditor"])
    assert list(created.membership.roles) == ["tenant-admin", "auditor"]


async def test_create_user_with_a_taken_email_writes_nothing(mesh: AdminMesh) -> None:
    email = unique_email()
    await mesh.admin_a.create_user(email)
    before = await mesh.counts()
    # Email is unique among the tenant's members, case-insensitively.
    await expect_error(mesh.admin_a.create_user(email.upper()), grpc.StatusCode.ALREADY_EXISTS, "USER_EMAIL_TAKEN")
    assert await mesh.counts() == before


async def test_create_user_refuses_weak_passwords_and_unknown_roles_without_writing(
    mesh: AdminMesh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tenantmesh")
    before = await mesh.counts()
    weak = pb.CreateUserRequest(user=user_pb2.User(email=unique_email()), password="password1234")
    error = await expect_error(
        mesh.admin_a.users.CreateUser(weak), grpc.StatusCode.INVALID_ARGUMENT, "PASSWORD_TOO_WEAK"
    )
    assert violation_fields(error) == {"password"}
    # The refusal says why, never what: not in its message, its details, nor the logs.
    assert_not_disclosed("password1234", error=error, records=caplog.records)
    error = await expect_error(
        mesh.admin_a.create_user(roles=["member", "no-such-role"]), grpc.StatusCode.INVALID_ARGUMENT, "ROLE_NOT_FOUND"
    )
    assert violation_fields(error) == {"roles"}
    # platform-admin exists in the platform tenant only.
    await expect_error(
        mesh.admin_a.create_user(roles=["platform-admin"]), grpc.StatusCode.INVALID_ARGUMENT, "ROLE_NOT_FOUND"
    )
    # A custom role of tenant B does not exist in tenant A.
    await mesh.admin_b.create_role("b-only", "auth.users.list")
    before = await mesh.counts()
    await expect_error(mesh.admin_a.create_user(roles=["b-only"]), grpc.StatusCode.INVALID_ARGUMENT, "ROLE_NOT_FOUND")
    no_email = pb.CreateUserRequest(user=user_pb2.User(display_name="x"), password=PASSWORD)
    error = await expect_error(
        mesh.admin_a.users.CreateUser(no_email), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"
    )
    assert violation_fields(error) == {"user.email"}
    assert await mesh.counts() == before


async def test_platform_admin_role_is_grantable_in_the_platform_tenant_only_by_a_platform_admin(
    mesh: AdminMesh,
) -> None:
    created = await mesh.platform(PLATFORM_TENANT_ID).create_user(roles=["platform-admin"])
    assert list(created.membership.roles) == ["platform-admin"]
    await expect_error(
        mesh.platform(mesh.tenant_a).create_user(roles=["platform-admin"]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ROLE_NOT_FOUND",
    )


async def test_platform_admin_creates_users_in_any_tenant_and_is_audited_there(mesh: AdminMesh) -> None:
    created = await mesh.platform(mesh.tenant_b).create_user(roles=["tenant-admin"])
    assert created.membership.tenant_id == mesh.tenant_b
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.user.created")
    assert (event.tenant_id, event.actor) == (mesh.tenant_b, mesh.subject("platform"))


async def test_members_without_the_permission_are_refused(mesh: AdminMesh) -> None:
    await expect_error(mesh.member_a.create_user(), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    await expect_error(
        mesh.member_a.users.ListUsers(pb.ListUsersRequest()), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"
    )


async def test_tenant_admin_of_b_acting_on_a_is_refused(mesh: AdminMesh) -> None:
    await expect_error(
        mesh.caller("admin-b", mesh.tenant_a).users.ListUsers(pb.ListUsersRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
        "TENANT_MISMATCH",
    )


async def test_get_user_sees_members_of_the_current_tenant_only(mesh: AdminMesh) -> None:
    in_a = (await mesh.admin_a.create_user()).user
    in_b = (await mesh.admin_b.create_user()).user
    got = await mesh.admin_a.users.GetUser(pb.GetUserRequest(user_id=in_a.user_id))
    assert got.user == in_a
    for user_id in (in_b.user_id, "01900000-0000-7000-8000-000000000000"):
        await expect_error(
            mesh.admin_a.users.GetUser(pb.GetUserRequest(user_id=user_id)), grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND"
        )


async def test_list_users_pages_through_the_tenants_members_in_creation_order(mesh: AdminMesh) -> None:
    mine = [(await mesh.admin_a.create_user()).user.user_id for _ in range(5)]
    await mesh.admin_b.create_user()
    shared = await mesh.admin_b.create_user()
    await mesh.platform(mesh.tenant_a).memberships.AddMembership(pb.AddMembershipRequest(user_id=shared.user.user_id))
    mine.append(shared.user.user_id)

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await mesh.admin_a.users.ListUsers(pb.ListUsersRequest(page_size=2, page_token=token))
        seen.extend(u.user_id for u in page.users)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(mine)
    assert pages == 3
    everything = await mesh.admin_a.users.ListUsers(pb.ListUsersRequest())
    assert [u.user_id for u in everything.users] == sorted(mine)
    assert everything.next_page_token == ""


async def test_list_users_refuses_foreign_or_tampered_page_tokens(mesh: AdminMesh) -> None:
    for _ in range(2):
        await mesh.admin_b.create_user()
    page_b = await mesh.admin_b.users.ListUsers(pb.ListUsersRequest(page_size=1))
    assert page_b.next_page_token
    await expect_error(
        mesh.admin_a.users.ListUsers(pb.ListUsersRequest(page_size=1, page_token=page_b.next_page_token)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    await expect_error(
        mesh.admin_a.users.ListUsers(pb.ListUsersRequest(page_token="garbage")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    await expect_error(
        mesh.admin_a.users.ListUsers(pb.ListUsersRequest(page_size=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )


async def test_update_user_changes_display_name_under_its_etag(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user(display_name="Old")).user
    changed = user_pb2.User(user_id=user.user_id, display_name="New", etag=user.etag)
    updated = (
        await mesh.admin_a.users.UpdateUser(pb.UpdateUserRequest(user=changed, update_mask=mask("display_name")))
    ).user
    assert updated.display_name == "New"
    assert updated.etag == "2"
    assert updated.email == user.email
    assert (await mesh.admin_a.users.GetUser(pb.GetUserRequest(user_id=user.user_id))).user == updated

    before = await mesh.counts()
    stale = user_pb2.User(user_id=user.user_id, display_name="Newer", etag=user.etag)
    await expect_error(
        mesh.admin_a.users.UpdateUser(pb.UpdateUserRequest(user=stale, update_mask=mask("display_name"))),
        grpc.StatusCode.ABORTED,
        "ETAG_MISMATCH",
    )
    await expect_error(
        mesh.admin_a.users.UpdateUser(pb.UpdateUserRequest(user=stale, update_mask=mask("email"))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert await mesh.counts() == before
    # Without an etag the update is unconditional.
    blind = user_pb2.User(user_id=user.user_id, display_name="Newest")
    updated = (
        await mesh.admin_a.users.UpdateUser(pb.UpdateUserRequest(user=blind, update_mask=mask("display_name")))
    ).user
    assert (updated.display_name, updated.etag) == ("Newest", "3")
    actions = [e.action for e in await mesh.rows(AuditEventRow, AuditEventRow.target == f"user:{user.user_id}")]
    assert sorted(actions) == ["auth.user.created", "auth.user.updated", "auth.user.updated"]


async def test_update_user_of_another_tenant_is_not_found(mesh: AdminMesh) -> None:
    user = (await mesh.admin_b.create_user(display_name="B")).user
    change = user_pb2.User(user_id=user.user_id, display_name="hijacked")
    await expect_error(
        mesh.admin_a.users.UpdateUser(pb.UpdateUserRequest(user=change, update_mask=mask("display_name"))),
        grpc.StatusCode.NOT_FOUND,
        "USER_NOT_FOUND",
    )
    (row,) = await mesh.rows(UserRow, UserRow.user_id == user.user_id)
    assert row.display_name == "B"


async def test_the_home_tenant_disables_a_user_everywhere_and_others_cannot(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    await mesh.platform(mesh.tenant_b).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id))
    issued = issued_before_now()
    subject = f"user:{user.user_id}"

    # B sees the person but does not own the identity.
    before = await mesh.counts()
    await expect_error(
        mesh.admin_b.users.DisableUser(pb.DisableUserRequest(user_id=user.user_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "USER_MANAGED_ELSEWHERE",
    )
    assert await mesh.counts() == before
    assert not mesh.token_revoked(subject, mesh.tenant_a, issued)

    disabled = (await mesh.admin_a.users.DisableUser(pb.DisableUserRequest(user_id=user.user_id))).user
    assert disabled.disabled
    assert disabled.etag == "2"
    assert mesh.token_revoked(subject, mesh.tenant_a, issued)
    assert mesh.token_revoked(subject, mesh.tenant_b, issued)
    assert mesh.revoked() == [("subject", subject, "")]
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.user.disabled")
    assert (event.tenant_id, event.target, event.actor) == (mesh.tenant_a, subject, mesh.subject("admin-a"))

    # Repeating it changes nothing but still answers with the user.
    again = (await mesh.admin_a.users.DisableUser(pb.DisableUserRequest(user_id=user.user_id))).user
    assert again.disabled
    assert again.etag == "2"


async def test_disable_user_needs_a_member_of_the_named_tenant(mesh: AdminMesh) -> None:
    user = (await mesh.admin_b.create_user()).user
    await expect_error(
        mesh.platform(mesh.tenant_a).users.DisableUser(pb.DisableUserRequest(user_id=user.user_id)),
        grpc.StatusCode.NOT_FOUND,
        "USER_NOT_FOUND",
    )
    (row,) = await mesh.rows(UserRow, UserRow.user_id == user.user_id)
    assert not row.disabled
    assert mesh.revoked() == []


async def test_a_user_in_two_tenants_is_one_identity_managed_by_its_home(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user(display_name="Shared")).user
    await mesh.platform(mesh.tenant_b).memberships.AddMembership(
        pb.AddMembershipRequest(user_id=user.user_id, roles=["tenant-admin"])
    )
    change = user_pb2.User(user_id=user.user_id, display_name="Renamed")
    await mesh.admin_a.users.UpdateUser(pb.UpdateUserRequest(user=change, update_mask=mask("display_name")))
    seen_from_b = (await mesh.admin_b.users.GetUser(pb.GetUserRequest(user_id=user.user_id))).user
    assert (seen_from_b.display_name, seen_from_b.external) == ("Renamed", True)
    memberships = await mesh.rows(MembershipRow, MembershipRow.user_id == user.user_id)
    assert {m.tenant_id for m in memberships} == {mesh.tenant_a, mesh.tenant_b}
    # B renaming the person is refused, and changes nothing.
    hijack = user_pb2.User(user_id=user.user_id, display_name="Hijacked")
    await expect_error(
        mesh.admin_b.users.UpdateUser(pb.UpdateUserRequest(user=hijack, update_mask=mask("display_name"))),
        grpc.StatusCode.FAILED_PRECONDITION,
        "USER_MANAGED_ELSEWHERE",
    )
    (row,) = await mesh.rows(UserRow, UserRow.user_id == user.user_id)
    assert (row.display_name, row.revision) == ("Renamed", 2)


async def test_concurrent_creates_of_one_email_in_one_tenant_make_one_user(mesh: AdminMesh) -> None:
    email = unique_email()
    results = await asyncio.gather(
        mesh.admin_a.create_user(email), mesh.admin_a.create_user(email), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert len(failed) == 1
    assert_error(failed[0], grpc.StatusCode.ALREADY_EXISTS, "USER_EMAIL_TAKEN")
    assert len(await mesh.rows(UserRow, UserRow.email == email)) == 1
    assert len(await mesh.rows(MembershipRow)) == 1
    assert len(await mesh.rows(AuditEventRow)) == 1


async def test_set_password_is_for_the_home_tenant_and_ends_every_session(
    mesh: AdminMesh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tenantmesh")
    user = (await mesh.admin_a.create_user()).user
    await mesh.platform(mesh.tenant_b).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id))
    (before_row,) = await mesh.rows(UserRow, UserRow.user_id == user.user_id)
    issued = issued_before_now()
    before = await mesh.counts()
    await expect_error(
        mesh.admin_b.users.SetUserPassword(pb.SetUserPasswordRequest(user_id=user.user_id, password="b-chose-this-1")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "USER_MANAGED_ELSEWHERE",
    )
    error = await expect_error(
        mesh.admin_a.users.SetUserPassword(pb.SetUserPasswordRequest(user_id=user.user_id, password=WEAK)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PASSWORD_TOO_WEAK",
    )
    assert violation_fields(error) == {"password"}
    assert_not_disclosed(WEAK, error=error, records=caplog.records)
    assert await mesh.counts() == before
    assert mesh.revoked() == []

    updated = (
        await mesh.admin_a.users.SetUserPassword(
            pb.SetUserPasswordRequest(user_id=user.user_id, password="a-new-long-passphrase")
        )
    ).user
    assert updated.etag == "2"
    (row,) = await mesh.rows(UserRow, UserRow.user_id == user.user_id)
    assert row.password_hash != before_row.password_hash
    assert mesh.token_revoked(f"user:{user.user_id}", mesh.tenant_b, issued)
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.user.password_set")
    assert (event.tenant_id, event.actor) == (mesh.tenant_a, mesh.subject("admin-a"))


async def test_an_address_used_in_another_tenant_is_a_fresh_address_to_this_one(mesh: AdminMesh) -> None:
    in_a = (await mesh.admin_a.create_user()).user
    known = await mesh.admin_b.create_user(in_a.email)
    fresh = await mesh.admin_b.create_user()
    # The same answer, field for field: a separate identity homed in B.
    assert sorted(f.name for f, _ in known.user.ListFields()) == sorted(f.name for f, _ in fresh.user.ListFields())
    assert known.user.user_id != in_a.user_id
    assert (known.user.external, known.user.etag, known.membership.tenant_id) == (False, "1", mesh.tenant_b)
    (a_row,) = await mesh.rows(UserRow, UserRow.user_id == in_a.user_id)
    assert (a_row.home_tenant_id, a_row.revision) == (mesh.tenant_a, 1)


async def test_only_the_home_tenant_changes_a_members_email(mesh: AdminMesh) -> None:
    user = (await mesh.admin_a.create_user()).user
    await mesh.platform(mesh.tenant_b).memberships.AddMembership(pb.AddMembershipRequest(user_id=user.user_id))
    before = await mesh.counts()
    change = user_pb2.User(user_id=user.user_id, email=unique_email("moved"))
    await expect_error(
        mesh.admin_b.users.UpdateUser(pb.UpdateUserRequest(user=change, update_mask=mask("email"))),
        grpc.StatusCode.FAILED_PRECONDITION,
        "USER_MANAGED_ELSEWHERE",
    )
    assert await mesh.counts() == before  # no verification mail queued either
    updated = (await mesh.admin_a.users.UpdateUser(pb.UpdateUserRequest(user=change, update_mask=mask("email")))).user
    assert updated.email == user.email  # pending until its owner confirms
    (row,) = await mesh.rows(UserRow, UserRow.user_id == user.user_id)
    assert row.pending_email == change.email


async def people(mesh: AdminMesh) -> list[tuple[object, ...]]:
    """What a takeover or demotion would change: identities and memberships, column by column."""
    users = [
        (u.user_id, u.password_hash, u.revision, u.disabled, u.email, u.pending_email) for u in await mesh.rows(UserRow)
    ]
    memberships = [(m.tenant_id, m.user_id, m.roles_json, m.revision) for m in await mesh.rows(MembershipRow)]
    return sorted(users) + sorted(memberships)


async def test_nobody_acts_on_a_person_who_may_do_more_than_they_may(mesh: AdminMesh) -> None:
    # A help desk: what members may do, and looking after people; no tenant administrator. Setting
    # an administrator's password would make it one (it logs in as them), and so would their second
    # factor or address; disabling, demoting or removing them decides over someone above it.
    desk = mesh.caller(
        mesh.principal(
            "helpdesk",
            mesh.tenant_a,
            roles=["member"],
            permissions=[
                "auth.users.update",
                "auth.users.disable",
                "auth.users.set_password",
                "auth.users.reset_mfa",
                "auth.memberships.update",
                "auth.memberships.delete",
            ],
        )
    )
    admin = (await mesh.admin_a.create_user(roles=["tenant-admin"])).user
    # Homed in B and an administrator of A: only A's membership is A's to touch.
    guest = (await mesh.admin_b.create_user()).user
    await mesh.platform(mesh.tenant_a).memberships.AddMembership(
        pb.AddMembershipRequest(user_id=guest.user_id, roles=["tenant-admin"])
    )
    member = (await mesh.admin_a.create_user()).user
    before = (await mesh.counts(), await people(mesh), mesh.revoked())

    for refused in (
        desk.users.SetUserPassword(pb.SetUserPasswordRequest(user_id=admin.user_id, password=PASSWORD + "!")),
        desk.users.ResetUserMfa(pb.ResetUserMfaRequest(user_id=admin.user_id)),
        desk.users.DisableUser(pb.DisableUserRequest(user_id=admin.user_id)),
        desk.users.UpdateUser(
            pb.UpdateUserRequest(
                user=user_pb2.User(user_id=admin.user_id, email=unique_email()), update_mask=mask("email")
            )
        ),
        desk.memberships.UpdateMembership(
            pb.UpdateMembershipRequest(membership=user_pb2.Membership(user_id=admin.user_id, roles=["member"]))
        ),
        desk.memberships.UpdateMembership(
            pb.UpdateMembershipRequest(membership=user_pb2.Membership(user_id=guest.user_id, roles=["member"]))
        ),
        desk.memberships.RemoveMembership(pb.RemoveMembershipRequest(user_id=guest.user_id)),
    ):
        error = await expect_error(refused, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_ESCALATION")
        assert "auth.roles.create" in error_info(error).metadata["permissions"].split(",")
    # Nothing changed: no row (passwords, factors, addresses, roles), no audit entry, no revocation.
    assert (await mesh.counts(), await people(mesh), mesh.revoked()) == before

    # Someone who may do no more than the desk is the desk's to look after.
    await desk.users.SetUserPassword(pb.SetUserPasswordRequest(user_id=member.user_id, password=PASSWORD + "!"))
    assert (await desk.users.DisableUser(pb.DisableUserRequest(user_id=member.user_id))).user.disabled


async def test_a_platform_tenant_administrator_cannot_take_over_a_platform_administrator(mesh: AdminMesh) -> None:
    operator = (await mesh.platform(PLATFORM_TENANT_ID).create_user(roles=["platform-admin"])).user
    deputy = mesh.caller(mesh.principal("deputy", PLATFORM_TENANT_ID, roles=["tenant-admin"]))
    before = await people(mesh)
    error = await expect_error(
        deputy.users.SetUserPassword(pb.SetUserPasswordRequest(user_id=operator.user_id, password=PASSWORD + "!")),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_ESCALATION",
    )
    assert error_info(error).metadata["permissions"] == "*"
    assert await people(mesh) == before


async def test_an_address_mail_cannot_reach_is_refused_before_anything_is_stored(mesh: AdminMesh) -> None:
    # The request's email rule admits these; the mail that goes with a new user, a new address or
    # an invitation could not be sent to them (it was INTERNAL, from inside the transaction).
    user = (await mesh.admin_a.create_user()).user
    before = (await mesh.counts(), await people(mesh))
    for address in ("a@localhost", "a..b@example.test", ".a@example.test", "a.@example.test"):
        for refused, field in (
            (mesh.admin_a.create_user(address), "user.email"),
            (
                mesh.admin_a.users.UpdateUser(
                    pb.UpdateUserRequest(
                        user=user_pb2.User(user_id=user.user_id, email=address), update_mask=mask("email")
                    )
                ),
                "user.email",
            ),
            (mesh.admin_a.invitations.CreateInvitation(pb.CreateInvitationRequest(email=address)), "email"),
        ):
            error = await expect_error(refused, grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
            assert violation_fields(error) == {field}
    assert (await mesh.counts(), await people(mesh)) == before


async def test_a_display_name_that_would_read_as_other_text_is_refused(mesh: AdminMesh) -> None:
    # The name is shown to other people and put in the platform's mail: a line break started a
    # "security notice" paragraph of the tenant admin's choosing in a mail sent to any address.
    user = (await mesh.admin_a.create_user()).user
    before = (await mesh.counts(), await people(mesh))
    for name in ("Customer\n\nSECURITY NOTICE", "A\u2028B", "evil\u202egnp.exe", "x\u0085y"):
        for refused in (
            mesh.admin_a.create_user(display_name=name),
            mesh.admin_a.users.UpdateUser(
                pb.UpdateUserRequest(
                    user=user_pb2.User(user_id=user.user_id, display_name=name), update_mask=mask("display_name")
                )
            ),
        ):
            error = await expect_error(refused, grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
            assert violation_fields(error) == {"user.display_name"}
    assert (await mesh.counts(), await people(mesh)) == before
    # Emoji sequences (joiners) and other scripts are names like any other.
    named = (await mesh.admin_a.create_user(display_name="Siti Nurhaliza \U0001f469\u200d\U0001f4bb")).user
    assert named.display_name == "Siti Nurhaliza \U0001f469\u200d\U0001f4bb"
