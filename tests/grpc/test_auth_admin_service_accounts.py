"""ServiceAccountService end to end: the key is shown once and stored hashed; delete revokes; isolation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import grpc
import pytest
from tenantmesh.auth.v1 import admin_service_pb2 as pb
from tenantmesh.auth.v1 import user_pb2

from services.auth.models import AuditEventRow, ServiceAccountRow
from services.auth.service_accounts import find_service_account_by_key
from tests.support.auth_admin import AdminMesh, Caller, admin_mesh
from tests.support.errors import error_info, expect_error, violation_fields

KEY_RE = re.compile(r"^(tmk_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


@pytest.fixture
async def mesh(db_backend_url: str) -> AsyncIterator[AdminMesh]:
    async with admin_mesh(db_backend_url) as started:
        yield started


async def create(caller: Caller, name: str, *roles: str) -> pb.CreateServiceAccountResponse:
    response: pb.CreateServiceAccountResponse = await caller.service_accounts.CreateServiceAccount(
        pb.CreateServiceAccountRequest(service_account=user_pb2.ServiceAccount(name=name, roles=roles))
    )
    return response


async def listed(caller: Caller) -> list[user_pb2.ServiceAccount]:
    response = await caller.service_accounts.ListServiceAccounts(pb.ListServiceAccountsRequest())
    return list(response.service_accounts)


async def test_create_returns_the_key_once_and_stores_only_its_hash(mesh: AdminMesh) -> None:
    created = await create(mesh.admin_a, "billing-sync", "tenant-admin")
    account, key = created.service_account, created.api_key
    match = KEY_RE.fullmatch(key)
    assert match is not None
    assert account.api_key_prefix == match.group(1)
    assert account.name == "billing-sync"
    assert list(account.roles) == ["tenant-admin"]

    (row,) = await mesh.rows(ServiceAccountRow, ServiceAccountRow.service_account_id == account.service_account_id)
    assert row.tenant_id == mesh.tenant_a
    assert row.api_key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.api_key_prefix == account.api_key_prefix
    secret = key.removeprefix(account.api_key_prefix + "_")
    assert len(secret) == 43
    for value in (row.api_key_hash, row.api_key_prefix, row.name, row.roles_json):
        assert secret not in value
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.service_account.created")
    assert secret not in event.details_json
    assert event.target == f"service-account:{account.service_account_id}"

    # Listing shows the prefix, never the key.
    (shown,) = await listed(mesh.admin_a)
    assert shown == account
    assert secret not in shown.SerializeToString().decode(errors="replace")


async def test_the_login_code_finds_an_account_by_its_key(mesh: AdminMesh) -> None:
    created = await create(mesh.admin_a, "robot")
    async with mesh.router.core_session() as session:
        found = await find_service_account_by_key(session, created.api_key)
        assert found is not None
        assert found.service_account_id == created.service_account.service_account_id
        key = created.api_key
        altered = key[:-1] + ("A" if key[-1] != "A" else "B")
        secret = key.removeprefix(created.service_account.api_key_prefix + "_")
        for wrong in (altered, secret, "", "tmk_", key + "x", key.upper()):
            assert await find_service_account_by_key(session, wrong) is None


async def test_default_role_is_member(mesh: AdminMesh) -> None:
    assert list((await create(mesh.admin_a, "robot")).service_account.roles) == ["member"]


async def test_create_errors_write_nothing(mesh: AdminMesh) -> None:
    await create(mesh.admin_a, "robot")
    before = await mesh.counts()
    await expect_error(create(mesh.admin_a, "robot"), grpc.StatusCode.ALREADY_EXISTS, "SERVICE_ACCOUNT_EXISTS")
    error = await expect_error(
        create(mesh.admin_a, "other", "ghost"), grpc.StatusCode.INVALID_ARGUMENT, "ROLE_NOT_FOUND"
    )
    assert violation_fields(error) == {"service_account.roles"}
    await expect_error(
        create(mesh.admin_a, "other", "platform-admin"), grpc.StatusCode.INVALID_ARGUMENT, "ROLE_NOT_FOUND"
    )
    error = await expect_error(create(mesh.admin_a, ""), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID")
    assert violation_fields(error) == {"service_account.name"}
    await expect_error(create(mesh.member_a, "mine"), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert await mesh.counts() == before


async def test_names_are_per_tenant_and_lists_show_own_accounts_only(mesh: AdminMesh) -> None:
    a = (await create(mesh.admin_a, "robot")).service_account
    b = (await create(mesh.admin_b, "robot")).service_account
    a2 = (await create(mesh.admin_a, "another")).service_account
    assert [s.service_account_id for s in await listed(mesh.admin_a)] == [a.service_account_id, a2.service_account_id]
    assert [s.service_account_id for s in await listed(mesh.admin_b)] == [b.service_account_id]


async def test_delete_revokes_and_the_key_stops_working(mesh: AdminMesh) -> None:
    created = await create(mesh.admin_a, "robot")
    account_id = created.service_account.service_account_id
    await mesh.admin_a.service_accounts.DeleteServiceAccount(
        pb.DeleteServiceAccountRequest(service_account_id=account_id)
    )
    assert mesh.revoked() == [("subject", f"service-account:{account_id}", "")]
    assert await listed(mesh.admin_a) == []
    async with mesh.router.core_session() as session:
        assert await find_service_account_by_key(session, created.api_key) is None
    (event,) = await mesh.rows(AuditEventRow, AuditEventRow.action == "auth.service_account.deleted")
    assert (event.tenant_id, event.target) == (mesh.tenant_a, f"service-account:{account_id}")
    await expect_error(
        mesh.admin_a.service_accounts.DeleteServiceAccount(
            pb.DeleteServiceAccountRequest(service_account_id=account_id)
        ),
        grpc.StatusCode.NOT_FOUND,
        "SERVICE_ACCOUNT_NOT_FOUND",
    )


async def test_delete_cannot_reach_another_tenants_account(mesh: AdminMesh) -> None:
    created = await create(mesh.admin_b, "robot")
    account_id = created.service_account.service_account_id
    before = await mesh.counts()
    await expect_error(
        mesh.admin_a.service_accounts.DeleteServiceAccount(
            pb.DeleteServiceAccountRequest(service_account_id=account_id)
        ),
        grpc.StatusCode.NOT_FOUND,
        "SERVICE_ACCOUNT_NOT_FOUND",
    )
    assert await mesh.counts() == before
    assert mesh.revoked() == []
    assert [s.service_account_id for s in await listed(mesh.admin_b)] == [account_id]


async def test_deleting_an_account_takes_every_permission_it_holds(mesh: AdminMesh) -> None:
    # A custom role that may manage service accounts but not much else: deleting one that may do
    # more (an administrator's integration) decides over it, like removing a member who may.
    keeping = ("auth.service_accounts.create", "auth.service_accounts.list", "auth.service_accounts.delete")
    await mesh.admin_a.create_role("robot-keeper", *keeping)
    await mesh.admin_a.create_role("auditor", "auth.audit.list")
    keeper = mesh.caller(mesh.principal("robot-keeper", mesh.tenant_a, roles=["member"], permissions=keeping))
    strong = (await create(mesh.admin_a, "billing-sync", "tenant-admin")).service_account
    reader = (await create(mesh.admin_a, "audit-export", "auditor")).service_account
    before = (await mesh.counts(), mesh.revoked())

    for account, lacking in ((strong, "auth.roles.create"), (reader, "auth.audit.list")):
        error = await expect_error(
            keeper.service_accounts.DeleteServiceAccount(
                pb.DeleteServiceAccountRequest(service_account_id=account.service_account_id)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_ESCALATION",
        )
        assert lacking in error_info(error).metadata["permissions"].split(",")
    # Nothing changed: both accounts and their keys are there, no audit entry, no revocation.
    assert (await mesh.counts(), mesh.revoked()) == before

    # One that may do no more than the keeper is the keeper's to delete.
    mine = (await create(keeper, "nightly-import", "robot-keeper")).service_account
    await keeper.service_accounts.DeleteServiceAccount(
        pb.DeleteServiceAccountRequest(service_account_id=mine.service_account_id)
    )
    assert [a.service_account_id for a in await listed(mesh.admin_a)] == [
        strong.service_account_id,
        reader.service_account_id,
    ]
