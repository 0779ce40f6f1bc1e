"""RoleService end to end: built-in and custom roles, grantable permissions, holders' revocation, isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.auth.v1 import admin_service_pb2 as pb
from tenantmesh.auth.v1 import user_pb2

from services.auth.models import AuditEventRow, RoleRow
from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.auth_admin import AdminMesh, admin_mesh, issued_before_now
from tests.support.errors import error_info, expect_error, violation_fields


@pytest.fixture
async def mesh(db_backend_url: str) -> AsyncIterator[AdminMesh]:
    async with admin_mesh(db_backend_url) as started:
        yield started


def update_request(name: str, *paths: str, etag: str = "", **fields: object) -> pb.UpdateRoleRequest:
    return pb.UpdateRoleRequest(
        role=user_pb2.Role(name=name, etag=etag, **fields),  # type: ignore[arg-type]
        update_mask=field_mask_pb2.FieldMask(paths=list(paths)),
    )


async def role_names(caller: object) -> list[str]:
    listed = await caller.roles.ListRoles(pb.ListRolesRequest())  # type: ignore[attr-defined]
    return [r.name for r in listed.roles]


async def test_list_roles_shows_built_in_roles_first(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("zeta", "auth.users.list")
    await mesh.admin_a.create_role("alpha", "auth.users.get")
    listed = (await mesh.admin_a.roles.ListRoles(pb.ListRolesRequest())).roles
    assert [r.name for r in listed] == ["tenant-admin", "member", "alpha", "zeta"]
    assert [r.built_in for r in listed] == [True, True, False, False]
    assert "auth.roles.update" in listed[0].permissions
    assert "auth.memberships.create" not in listed[0].permissions
    assert await role_names(mesh.platform(PLATFORM_TENANT_ID)) == ["platform-admin", "tenant-admin", "member"]
    assert await role_names(mesh.admin_b) == ["tenant-admin", "member"]


async def test_create_and_get_a_custom_role(mesh: AdminMesh) -> None:
    role = await mesh.admin_a.create_role("auditor", "auth.audit.list", "auth.users.list", description="Reads the log")
    assert (role.name, role.description, role.built_in, role.etag) == ("auditor", "Reads the log", False, "1")
    assert list(role.permissions) == ["auth.audit.list", "auth.users.list"]
    assert (await mesh.admin_a.roles.GetRole(pb.GetRoleRequest(name="auditor"))).role == role
    built_in = (await mesh.admin_a.roles.GetRole(pb.GetRoleRequest(name="member"))).role
    assert built_in.built_in
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.role.created")
    assert (event.tenant_id, event.target) == (mesh.tenant_a, "role:auditor")


async def test_create_role_refuses_duplicates_built_in_names_and_ungrantable_permissions(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    before = await mesh.counts()
    for name in ("auditor", "member", "tenant-admin", "platform-admin"):
        await expect_error(
            mesh.admin_a.create_role(name, "auth.users.list"), grpc.StatusCode.ALREADY_EXISTS, "ROLE_EXISTS"
        )
    error = await expect_error(
        mesh.admin_a.create_role("sneaky", "auth.users.list", "auth.memberships.create", "tenants.tenants.create"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PERMISSION_NOT_GRANTABLE",
    )
    assert error_info(error).metadata["permissions"] == "auth.memberships.create,tenants.tenants.create"
    assert violation_fields(error) == {"role.permissions[1]", "role.permissions[2]"}
    await expect_error(
        mesh.admin_a.roles.CreateRole(pb.CreateRoleRequest(role=user_pb2.Role(description="nameless"))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert await mesh.counts() == before


async def test_custom_role_names_are_per_tenant(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("ops", "auth.users.list")
    await mesh.admin_b.create_role("ops", "auth.roles.list")
    a = (await mesh.admin_a.roles.GetRole(pb.GetRoleRequest(name="ops"))).role
    b = (await mesh.admin_b.roles.GetRole(pb.GetRoleRequest(name="ops"))).role
    assert (list(a.permissions), list(b.permissions)) == (["auth.users.list"], ["auth.roles.list"])


async def test_get_role_is_not_found_across_tenants_and_for_platform_admin_elsewhere(mesh: AdminMesh) -> None:
    await mesh.admin_b.create_role("b-only", "auth.users.list")
    for name in ("b-only", "ghost", "platform-admin"):
        await expect_error(
            mesh.admin_a.roles.GetRole(pb.GetRoleRequest(name=name)), grpc.StatusCode.NOT_FOUND, "ROLE_NOT_FOUND"
        )


async def test_a_role_cannot_grant_more_than_its_creator_holds(mesh: AdminMesh) -> None:
    editor = mesh.principal(
        "role-editor", mesh.tenant_a, roles=["member"], permissions=["auth.roles.create", "auth.roles.update"]
    )
    before = await mesh.counts()
    await expect_error(
        mesh.caller(editor).create_role("power", "auth.users.create"),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_ESCALATION",
    )
    assert await mesh.counts() == before
    await mesh.caller(editor).create_role("modest", "auth.roles.create")
    await expect_error(
        mesh.caller(editor).roles.UpdateRole(
            update_request("modest", "permissions", permissions=["auth.users.create"])
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_ESCALATION",
    )


async def test_update_role_permissions_revokes_every_holder_in_the_tenant(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    await mesh.admin_a.create_role("bystander", "auth.audit.list")
    holder = (await mesh.admin_a.create_user(roles=["auditor"])).user
    other = (await mesh.admin_a.create_user(roles=["bystander"])).user
    account = (
        await mesh.admin_a.service_accounts.CreateServiceAccount(
            pb.CreateServiceAccountRequest(service_account=user_pb2.ServiceAccount(name="robot", roles=["auditor"]))
        )
    ).service_account
    issued = issued_before_now()

    updated = (
        await mesh.admin_a.roles.UpdateRole(
            update_request("auditor", "permissions", etag="1", permissions=["auth.audit.list", "auth.users.list"])
        )
    ).role
    assert list(updated.permissions) == ["auth.audit.list", "auth.users.list"]
    assert updated.etag == "2"
    assert sorted(mesh.revoked()) == sorted(
        [
            ("subject", f"user:{holder.user_id}", mesh.tenant_a),
            ("subject", f"service-account:{account.service_account_id}", mesh.tenant_a),
        ]
    )
    assert mesh.token_revoked(f"user:{holder.user_id}", mesh.tenant_a, issued)
    assert not mesh.token_revoked(f"user:{other.user_id}", mesh.tenant_a, issued)
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.role.updated")
    assert event.target == "role:auditor"


async def test_update_role_description_only_revokes_nobody(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    await mesh.admin_a.create_user(roles=["auditor"])
    updated = (
        await mesh.admin_a.roles.UpdateRole(update_request("auditor", "description", description="Reads the log"))
    ).role
    assert (updated.description, list(updated.permissions), updated.etag) == ("Reads the log", ["auth.audit.list"], "2")
    assert mesh.revoked() == []


async def test_update_role_errors_change_nothing(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    await mesh.admin_b.create_role("b-only", "auth.audit.list")
    await mesh.admin_a.create_user(roles=["auditor"])
    before = await mesh.counts()
    cases = [
        (
            update_request("member", "description", description="x"),
            grpc.StatusCode.FAILED_PRECONDITION,
            "ROLE_BUILT_IN",
        ),
        (update_request("tenant-admin", "permissions"), grpc.StatusCode.FAILED_PRECONDITION, "ROLE_BUILT_IN"),
        (update_request("ghost", "description"), grpc.StatusCode.NOT_FOUND, "ROLE_NOT_FOUND"),
        (update_request("b-only", "description", description="hijack"), grpc.StatusCode.NOT_FOUND, "ROLE_NOT_FOUND"),
        (update_request("auditor", "description", etag="7", description="x"), grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
        (
            update_request("auditor", "permissions", permissions=["auth.memberships.create"]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PERMISSION_NOT_GRANTABLE",
        ),
        (update_request("auditor", "name"), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
    ]
    for request, code, reason in cases:
        await expect_error(mesh.admin_a.roles.UpdateRole(request), code, reason)
    assert await mesh.counts() == before
    (row,) = await mesh.rows(RoleRow, RoleRow.tenant_id == mesh.tenant_a, RoleRow.name == "auditor")
    assert (row.revision, row.description) == (1, "")
    (b_row,) = await mesh.rows(RoleRow, RoleRow.tenant_id == mesh.tenant_b)
    assert b_row.description == ""
    assert mesh.revoked() == []


async def test_delete_role(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("temp", "auth.users.list")
    await mesh.admin_a.roles.DeleteRole(pb.DeleteRoleRequest(name="temp"))
    await expect_error(
        mesh.admin_a.roles.GetRole(pb.GetRoleRequest(name="temp")), grpc.StatusCode.NOT_FOUND, "ROLE_NOT_FOUND"
    )
    assert "temp" not in await role_names(mesh.admin_a)
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.role.deleted")
    assert (event.tenant_id, event.target) == (mesh.tenant_a, "role:temp")
    # Deleted means gone: granting it now fails.
    await expect_error(mesh.admin_a.create_user(roles=["temp"]), grpc.StatusCode.INVALID_ARGUMENT, "ROLE_NOT_FOUND")


async def test_delete_role_refuses_built_in_held_foreign_and_unknown_roles(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("ops", "auth.users.list")
    await mesh.admin_a.create_role("ops-lead", "auth.users.list")
    await mesh.admin_a.create_role("bots", "auth.users.list")
    await mesh.admin_b.create_role("b-only", "auth.users.list")
    await mesh.admin_a.create_user(roles=["member", "ops"])
    await mesh.admin_a.service_accounts.CreateServiceAccount(
        pb.CreateServiceAccountRequest(service_account=user_pb2.ServiceAccount(name="robot", roles=["bots"]))
    )
    before = await mesh.counts()
    for name, code, reason in [
        ("member", grpc.StatusCode.FAILED_PRECONDITION, "ROLE_BUILT_IN"),
        ("tenant-admin", grpc.StatusCode.FAILED_PRECONDITION, "ROLE_BUILT_IN"),
        ("ops", grpc.StatusCode.FAILED_PRECONDITION, "ROLE_IN_USE"),
        ("bots", grpc.StatusCode.FAILED_PRECONDITION, "ROLE_IN_USE"),
        ("b-only", grpc.StatusCode.NOT_FOUND, "ROLE_NOT_FOUND"),
        ("ghost", grpc.StatusCode.NOT_FOUND, "ROLE_NOT_FOUND"),
    ]:
        await expect_error(mesh.admin_a.roles.DeleteRole(pb.DeleteRoleRequest(name=name)), code, reason)
    assert await mesh.counts() == before
    # "ops" is held, "ops-lead" (whose name contains it) is not.
    await mesh.admin_a.roles.DeleteRole(pb.DeleteRoleRequest(name="ops-lead"))
    assert len(await mesh.rows(RoleRow, RoleRow.tenant_id == mesh.tenant_b, RoleRow.name == "b-only")) == 1


async def test_a_role_is_free_to_delete_once_its_last_holder_lets_go(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("ops", "auth.users.list")
    user = (await mesh.admin_a.create_user(roles=["ops"])).user
    await expect_error(
        mesh.admin_a.roles.DeleteRole(pb.DeleteRoleRequest(name="ops")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ROLE_IN_USE",
    )
    await mesh.admin_a.memberships.UpdateMembership(
        pb.UpdateMembershipRequest(membership=user_pb2.Membership(user_id=user.user_id, roles=["member"]))
    )
    await mesh.admin_a.roles.DeleteRole(pb.DeleteRoleRequest(name="ops"))


async def test_members_cannot_manage_roles(mesh: AdminMesh) -> None:
    await expect_error(
        mesh.member_a.create_role("mine", "auth.self"), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"
    )
    await expect_error(
        mesh.member_a.roles.ListRoles(pb.ListRolesRequest()), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"
    )


async def test_a_role_a_pending_invitation_grants_cannot_be_deleted(mesh: AdminMesh) -> None:
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    invitation = (
        await mesh.admin_a.invitations.CreateInvitation(
            pb.CreateInvitationRequest(email="auditor@example.test", roles=["auditor"])
        )
    ).invitation
    # Its acceptance would make a membership holding a role that no longer exists.
    error = await expect_error(
        mesh.admin_a.roles.DeleteRole(pb.DeleteRoleRequest(name="auditor")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ROLE_IN_USE",
    )
    assert (error_info(error).metadata["members"], error_info(error).metadata["invitations"]) == ("0", "1")
    await mesh.admin_a.invitations.RevokeInvitation(pb.RevokeInvitationRequest(invitation_id=invitation.invitation_id))
    await mesh.admin_a.roles.DeleteRole(pb.DeleteRoleRequest(name="auditor"))
    assert await mesh.rows(RoleRow, RoleRow.name == "auditor") == []
