"""Sessions end to end on the in-process platform (tenants + auth, token authentication):
refresh rotation and reuse detection, logout, membership removal and disabled
users, concurrent refreshes, tenant switch, password change and policy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from argon2 import PasswordHasher
from google.protobuf import field_mask_pb2
from sqlalchemy import select, update
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb

from services.auth.models import RefreshTokenRow, UserRow
from services.auth.tokens import digest
from services.runtime.clock import utcnow
from services.runtime.db import TenantDatabase
from tests.support.errors import assert_error, expect_error, violation_fields
from tests.support.platform import Platform, bearer, platform

PASSWORD = "tr0ub4dor-and-3-more"
NEW_PASSWORD = "a-much-better-passphrase-7"
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@dataclass
class World:
    """The platform, its administrator's token, and the tenants a test created (dropped at the end)."""

    mesh: Platform
    admin: str
    created: list[tenant_pb2.Tenant] = field(default_factory=list)

    def as_admin(self, tenant_id: str) -> tuple[tuple[str, str], ...]:
        return (*bearer(self.admin), ("x-tenant-id", tenant_id))

    async def tenant(self, stem: str = "s") -> tenant_pb2.Tenant:
        created = await self.mesh.create_tenant(f"{stem}-{uuid.uuid4().hex[:10]}")
        self.created.append(created)
        assert created.state == tenant_pb2.TENANT_STATE_ACTIVE
        return created

    async def user(self, tenant: tenant_pb2.Tenant, roles: tuple[str, ...] = ()) -> user_pb2.User:
        response = await self.mesh.admin_stub("UserService").CreateUser(
            admin_pb.CreateUserRequest(
                user=user_pb2.User(email=f"u-{uuid.uuid4().hex[:10]}@example.test"), password=PASSWORD, roles=roles
            ),
            metadata=self.as_admin(tenant.tenant_id),
        )
        user: user_pb2.User = response.user
        return user

    async def refresh(self, refresh_token: str) -> auth_pb.TokenSet:
        response = await self.mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=refresh_token))
        tokens: auth_pb.TokenSet = response.tokens
        return tokens

    async def get_me(self, access_token: str) -> auth_pb.GetMeResponse:
        response: auth_pb.GetMeResponse = await self.mesh.auth.GetMe(
            auth_pb.GetMeRequest(), metadata=bearer(access_token)
        )
        return response

    async def current_tenant(self, access_token: str, tenant_id: str) -> tenant_pb2.Tenant:
        response = await self.mesh.tenants.GetCurrentTenant(
            tenants_pb.GetCurrentTenantRequest(), metadata=(*bearer(access_token), ("x-tenant-id", tenant_id))
        )
        tenant: tenant_pb2.Tenant = response.tenant
        return tenant

    async def audit(self, action: str) -> list[user_pb2.AuditEvent]:
        response = await self.mesh.admin_stub("AuditService").ListPlatformAuditEvents(
            admin_pb.ListPlatformAuditEventsRequest(action_prefix=action, page_size=500), metadata=bearer(self.admin)
        )
        return [e for e in response.audit_events if e.action == action]

    async def refused_everywhere(self, access_token: str, tenant_id: str, reason: str = "TOKEN_REVOKED") -> None:
        """The token is refused by both services (auth and tenants)."""
        await expect_error(self.get_me(access_token), UNAUTHENTICATED, reason)
        await expect_error(self.current_tenant(access_token, tenant_id), UNAUTHENTICATED, reason)


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with platform(db_backend_url, tmp_path) as mesh:
        made = World(mesh=mesh, admin=await mesh.admin_token())
        try:
            yield made
        finally:
            if not db_backend_url.startswith("sqlite"):
                for tenant in made.created:
                    await mesh.runtime.db.drop_tenant_database(
                        TenantDatabase(tenant.database.server, tenant.database.database)
                    )


async def login_and_refresh_twice(world: World) -> tuple[tenant_pb2.Tenant, user_pb2.User, list[auth_pb.TokenSet]]:
    """(tenant, user, [login, first refresh, second refresh]) of a new member."""
    tenant = await world.tenant()
    user = await world.user(tenant)
    first = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    second = await world.refresh(first.refresh_token)
    return tenant, user, [first, second, await world.refresh(second.refresh_token)]


async def test_refresh_rotates_and_a_reused_token_revokes_the_whole_session(world: World) -> None:
    tenant, user, (first, second, third) = await login_and_refresh_twice(world)

    refresh_tokens = {first.refresh_token, second.refresh_token, third.refresh_token}
    access_tokens = {first.access_token, second.access_token, third.access_token}
    assert len(refresh_tokens) == 3
    assert len(access_tokens) == 3
    assert third.tenant_id == tenant.tenant_id
    # Same session throughout: a refresh continues the login, it does not start another.
    me = await world.get_me(third.access_token)
    assert me.session_id == (await world.get_me(first.access_token)).session_id
    assert me.subject == f"user:{user.user_id}"

    # A consumed refresh token presented again: stolen or replayed.
    await expect_error(world.refresh(first.refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_REUSED")
    # The whole family is gone: the newest refresh token and every access token of the session.
    await expect_error(world.refresh(third.refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")
    await world.refused_everywhere(third.access_token, tenant.tenant_id)
    await world.refused_everywhere(first.access_token, tenant.tenant_id)

    (event,) = await world.audit("auth.refresh.reused")
    assert event.tenant_id == tenant.tenant_id
    assert event.actor == f"user:{user.user_id}"
    assert event.target == f"session:{me.session_id}"

    # Other sessions of the same user are not touched, and a new login works.
    again = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    assert (await world.current_tenant(again.access_token, tenant.tenant_id)).tenant_id == tenant.tenant_id


async def test_refresh_refuses_garbage_and_tokens_of_logged_out_sessions(world: World) -> None:
    for garbage in ("tmr_" + "x" * 43, "not-a-refresh-token-at-all", str(uuid.uuid4())):
        await expect_error(world.refresh(garbage), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")

    tenant = await world.tenant()
    user = await world.user(tenant)
    leaving = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    staying = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    await world.mesh.auth.Logout(auth_pb.LogoutRequest(), metadata=bearer(leaving.access_token))

    await expect_error(world.refresh(leaving.refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")
    await world.refused_everywhere(leaving.access_token, tenant.tenant_id)
    # Logging out ends that session only.
    refreshed = await world.refresh(staying.refresh_token)
    await world.current_tenant(refreshed.access_token, tenant.tenant_id)
    assert len(await world.audit("auth.logout")) == 1


async def test_refresh_after_membership_removal_or_disabling_is_refused(world: World) -> None:
    tenant, home = await world.tenant(), await world.tenant("home")
    # A member homed elsewhere (a home membership cannot be removed: the home disables instead).
    removed, disabled = await world.user(home), await world.user(tenant)
    await world.mesh.admin_stub("MembershipService").AddMembership(
        admin_pb.AddMembershipRequest(user_id=removed.user_id), metadata=world.as_admin(tenant.tenant_id)
    )
    removed_tokens = await world.mesh.login(tenant.slug, removed.email, PASSWORD)
    disabled_tokens = await world.mesh.login(tenant.slug, disabled.email, PASSWORD)

    await world.mesh.admin_stub("MembershipService").RemoveMembership(
        admin_pb.RemoveMembershipRequest(user_id=removed.user_id), metadata=world.as_admin(tenant.tenant_id)
    )
    await world.mesh.admin_stub("UserService").DisableUser(
        admin_pb.DisableUserRequest(user_id=disabled.user_id), metadata=world.as_admin(tenant.tenant_id)
    )

    for tokens in (removed_tokens, disabled_tokens):
        await expect_error(world.refresh(tokens.refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")
        await world.refused_everywhere(tokens.access_token, tenant.tenant_id)
    # And no way back in by password.
    for user in (removed, disabled):
        await expect_error(world.mesh.login(tenant.slug, user.email, PASSWORD), UNAUTHENTICATED, "INVALID_CREDENTIALS")


async def test_a_token_consumed_before_successor_links_counts_as_used(world: World) -> None:
    # Tokens consumed before auth_core_0002 carry use_time and have no successor row.
    tenant = await world.tenant()
    user = await world.user(tenant)
    tokens = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    async with world.mesh.runtime.db.core_session() as session:
        await session.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.token_hash == digest(tokens.refresh_token))
            .values(use_time=utcnow())
        )
        await session.commit()
    await expect_error(world.refresh(tokens.refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_REUSED")
    await world.refused_everywhere(tokens.access_token, tenant.tenant_id)


async def test_each_refresh_records_the_token_it_consumed(world: World) -> None:
    _, _, (first, second, third) = await login_and_refresh_twice(world)
    async with world.mesh.runtime.db.core_session() as session:
        rows = (
            await session.execute(
                select(RefreshTokenRow.token_hash, RefreshTokenRow.parent_hash, RefreshTokenRow.use_time).where(
                    RefreshTokenRow.token_hash.in_([digest(t.refresh_token) for t in (first, second, third)])
                )
            )
        ).all()
    parents = {token_hash: parent for token_hash, parent, _ in rows}
    assert parents == {
        digest(first.refresh_token): None,
        digest(second.refresh_token): digest(first.refresh_token),
        digest(third.refresh_token): digest(second.refresh_token),
    }
    assert all(use_time is None for _, _, use_time in rows)  # consumed rows are not written again


async def test_get_me_shows_a_rename_made_through_this_process_at_once(world: World) -> None:
    tenant = await world.tenant()
    user = await world.user(tenant)
    tokens = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    assert (await world.get_me(tokens.access_token)).user.display_name == user.display_name  # now cached
    renamed = user_pb2.User(user_id=user.user_id, display_name="Renamed Member", etag=user.etag)
    await world.mesh.admin_stub("UserService").UpdateUser(
        admin_pb.UpdateUserRequest(user=renamed, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])),
        metadata=world.as_admin(tenant.tenant_id),
    )
    me = await world.get_me(tokens.access_token)
    assert me.user.display_name == "Renamed Member"
    assert me.user.email == user.email


async def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(world: World) -> None:
    tenant = await world.tenant()
    user = await world.user(tenant)
    for _ in range(3):
        tokens = await world.mesh.login(tenant.slug, user.email, PASSWORD)
        results = await asyncio.gather(*(world.refresh(tokens.refresh_token) for _ in range(2)), return_exceptions=True)
        winners = [r for r in results if isinstance(r, auth_pb.TokenSet)]
        losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(winners) == 1, results
        assert len(losers) == 1, results
        assert_error(losers[0], UNAUTHENTICATED, "REFRESH_TOKEN_REUSED")
        # The loser looks like a replay: the session (and so the winner's tokens too) is revoked.
        await expect_error(world.refresh(winners[0].refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")


async def test_switch_tenant_to_another_membership_only(world: World) -> None:
    tenant_a, tenant_b, tenant_c = await world.tenant("a"), await world.tenant("b"), await world.tenant("c")
    user = await world.user(tenant_a)
    await world.mesh.admin_stub("MembershipService").AddMembership(
        admin_pb.AddMembershipRequest(user_id=user.user_id, roles=["tenant-admin"]),
        metadata=world.as_admin(tenant_b.tenant_id),
    )
    in_a = await world.mesh.login(tenant_a.slug, user.email, PASSWORD)

    switched = (
        await world.mesh.auth.SwitchTenant(
            auth_pb.SwitchTenantRequest(tenant=tenant_b.slug), metadata=bearer(in_a.access_token)
        )
    ).tokens
    assert switched.tenant_id == tenant_b.tenant_id
    me = await world.get_me(switched.access_token)
    assert me.tenant_id == tenant_b.tenant_id
    assert list(me.roles) == ["tenant-admin"]
    assert (await world.current_tenant(switched.access_token, tenant_b.tenant_id)).tenant_id == tenant_b.tenant_id
    # The new token is B's only; the A token stays A's.
    await expect_error(
        world.current_tenant(switched.access_token, tenant_a.tenant_id),
        grpc.StatusCode.PERMISSION_DENIED,
        "TENANT_MISMATCH",
    )
    await world.current_tenant(in_a.access_token, tenant_a.tenant_id)
    # By id works as well as by slug, and the new session refreshes on its own.
    by_id = await world.mesh.auth.SwitchTenant(
        auth_pb.SwitchTenantRequest(tenant=tenant_b.tenant_id), metadata=bearer(in_a.access_token)
    )
    assert by_id.tokens.tenant_id == tenant_b.tenant_id
    assert (await world.refresh(switched.refresh_token)).tenant_id == tenant_b.tenant_id

    for elsewhere in (tenant_c.slug, "platform", "no-such-tenant", str(uuid.uuid4())):
        await expect_error(
            world.mesh.auth.SwitchTenant(
                auth_pb.SwitchTenantRequest(tenant=elsewhere), metadata=bearer(in_a.access_token)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "NOT_A_MEMBER",
        )
    switches = await world.audit("auth.tenant.switched")
    assert len(switches) == 2
    # B's audit log records the switch into B, never where from: A is none of B's business.
    assert all(tenant_a.tenant_id not in str(event) for event in switches)
    seen_in_b = await world.mesh.admin_stub("AuditService").ListAuditEvents(
        admin_pb.ListAuditEventsRequest(action_prefix="auth.tenant."),
        metadata=(*bearer(switched.access_token), ("x-tenant-id", tenant_b.tenant_id)),
    )
    assert [e.action for e in seen_in_b.audit_events] == ["auth.tenant.switched"] * 2
    assert tenant_a.tenant_id not in str(seen_in_b)


async def test_change_password_revokes_other_sessions_and_keeps_the_current_one(world: World) -> None:
    tenant = await world.tenant()
    user = await world.user(tenant)
    current = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    other = await world.mesh.login(tenant.slug, user.email, PASSWORD)
    change = world.mesh.auth.ChangePassword

    await expect_error(
        change(
            auth_pb.ChangePasswordRequest(current_password="wrong-password-123", new_password=NEW_PASSWORD),
            metadata=bearer(current.access_token),
        ),
        UNAUTHENTICATED,
        "INVALID_CREDENTIALS",
    )
    await change(
        auth_pb.ChangePasswordRequest(current_password=PASSWORD, new_password=NEW_PASSWORD),
        metadata=bearer(current.access_token),
    )

    await world.refused_everywhere(other.access_token, tenant.tenant_id)
    await expect_error(world.refresh(other.refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")
    assert (await world.get_me(current.access_token)).user.user_id == user.user_id
    await world.current_tenant(current.access_token, tenant.tenant_id)
    await world.refresh(current.refresh_token)

    await expect_error(world.mesh.login(tenant.slug, user.email, PASSWORD), UNAUTHENTICATED, "INVALID_CREDENTIALS")
    await world.mesh.login(tenant.slug, user.email, NEW_PASSWORD)
    (event,) = await world.audit("auth.password.changed")
    assert event.target == f"user:{user.user_id}"


async def test_weak_new_passwords_are_refused_and_change_nothing(world: World) -> None:
    tenant = await world.tenant()
    user = await world.user(tenant)
    tokens = await world.mesh.login(tenant.slug, user.email, PASSWORD)

    async def change(new: str) -> Any:
        return await world.mesh.auth.ChangePassword(
            auth_pb.ChangePasswordRequest(current_password=PASSWORD, new_password=new),
            metadata=bearer(tokens.access_token),
        )

    for weak in ("password1234", "Password1234", "111111111111", "abababababababab", "tenantmesh123"):
        error = await expect_error(change(weak), grpc.StatusCode.INVALID_ARGUMENT, "PASSWORD_TOO_WEAK")
        assert violation_fields(error) == {"new_password"}
    # Too short is refused by the request's declared rules, before the policy runs.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await change("short-pw")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation_fields(caught.value) == {"new_password"}

    await world.mesh.login(tenant.slug, user.email, PASSWORD)
    assert await world.audit("auth.password.changed") == []


async def test_passwords_are_stored_as_argon2id_and_rehashed_on_parameter_change(world: World) -> None:
    tenant = await world.tenant()
    user = await world.user(tenant)

    async def stored_hash() -> str:
        async with world.mesh.runtime.db.core_session() as session:
            return str(
                (
                    await session.execute(select(UserRow.password_hash).where(UserRow.user_id == user.user_id))
                ).scalar_one()
            )

    created = await stored_hash()
    assert created.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in created

    # A hash made with weaker, older parameters is upgraded at the next successful login.
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    async with world.mesh.runtime.db.core_session() as session:
        await session.execute(update(UserRow).where(UserRow.user_id == user.user_id).values(password_hash=old))
        await session.commit()
    await expect_error(
        world.mesh.login(tenant.slug, user.email, "not-the-password"), UNAUTHENTICATED, "INVALID_CREDENTIALS"
    )
    assert await stored_hash() == old  # a failed login changes nothing
    await world.mesh.login(tenant.slug, user.email, PASSWORD)
    upgraded = await stored_hash()
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    await world.mesh.login(tenant.slug, user.email, PASSWORD)
    assert await stored_hash() == upgraded


async def test_a_removed_membership_ends_its_sessions_so_rejoining_does_not_revive_them(world: World) -> None:
    # The refresh token of a session in the tenant was refused while the membership was gone, but
    # nothing ended the session: once the person was a member again (re-invited, re-added), a
    # refresh token taken before the removal opened it again.
    tenant, home = await world.tenant(), await world.tenant("home")
    person = await world.user(home)
    memberships = world.mesh.admin_stub("MembershipService")
    add = admin_pb.AddMembershipRequest(user_id=person.user_id)
    await memberships.AddMembership(add, metadata=world.as_admin(tenant.tenant_id))
    before = await world.mesh.login(tenant.slug, person.email, PASSWORD)
    at_home = await world.mesh.login(home.slug, person.email, PASSWORD)

    await memberships.RemoveMembership(
        admin_pb.RemoveMembershipRequest(user_id=person.user_id), metadata=world.as_admin(tenant.tenant_id)
    )
    await memberships.AddMembership(add, metadata=world.as_admin(tenant.tenant_id))

    await expect_error(world.refresh(before.refresh_token), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID")
    # The removal is the tenant's business only: the session at home goes on.
    assert (await world.refresh(at_home.refresh_token)).tenant_id == home.tenant_id
    assert (await world.mesh.login(tenant.slug, person.email, PASSWORD)).tenant_id == tenant.tenant_id
