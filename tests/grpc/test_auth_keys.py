"""Keys and secrets on the in-process platform: signing key rotation with tokens
in flight and the JWKS publish window, service accounts' API keys, and the
first-start bootstrap (administrator, service key file)."""

from __future__ import annotations

import contextlib
import stat
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from sqlalchemy import func, select, update
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import user_pb2
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb

from services.auth.app import AuthApp
from services.auth.bootstrap import SERVICE_KEY_FILE
from services.auth.models import AuditEventRow, MembershipRow, SigningKeyRow, UserRow
from services.runtime.app import Runtime, StartedApp, start_app, stop_apps
from services.runtime.auth.verifier import ISSUED_AHEAD_LEEWAY_SECONDS, JwksCache, TokenVerifier, outlived_after_seconds
from services.runtime.clock import utcnow
from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.db import TenantDatabase
from services.runtime.errors import Unauthenticated
from services.tenants.app import TenantsApp
from tests.support.errors import expect_error
from tests.support.mesh import mesh_settings
from tests.support.platform import ADMIN_EMAIL, Platform, bearer, platform
from tests.support.registry import eventually

PASSWORD = "tr0ub4dor-and-3-more"
TOKEN_TTL_SECONDS = 2
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


@dataclass
class World:
    mesh: Platform
    admin: str
    created: list[tenant_pb2.Tenant] = field(default_factory=list)

    def as_admin(self, tenant_id: str) -> tuple[tuple[str, str], ...]:
        return (*bearer(self.admin), ("x-tenant-id", tenant_id))

    async def tenant(self) -> tenant_pb2.Tenant:
        created = await self.mesh.create_tenant(f"k-{uuid.uuid4().hex[:10]}")
        self.created.append(created)
        return created

    async def member_login(self, tenant: tenant_pb2.Tenant) -> auth_pb.TokenSet:
        email = f"u-{uuid.uuid4().hex[:10]}@example.test"
        await self.mesh.admin_stub("UserService").CreateUser(
            admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=PASSWORD),
            metadata=self.as_admin(tenant.tenant_id),
        )
        return await self.mesh.login(tenant.slug, email, PASSWORD)

    async def accepted_by_both(self, token: str, tenant_id: str) -> None:
        """Auth (GetMe) and tenants (GetCurrentTenant) both take the token."""
        me = await self.mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(token))
        assert me.tenant_id == tenant_id
        current = await self.mesh.tenants.GetCurrentTenant(
            tenants_pb.GetCurrentTenantRequest(), metadata=(*bearer(token), ("x-tenant-id", tenant_id))
        )
        assert current.tenant.tenant_id == tenant_id

    async def refused_by_both(self, token: str, tenant_id: str, reason: str) -> None:
        await expect_error(
            self.mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(token)), UNAUTHENTICATED, reason
        )
        await expect_error(
            self.mesh.tenants.GetCurrentTenant(
                tenants_pb.GetCurrentTenantRequest(), metadata=(*bearer(token), ("x-tenant-id", tenant_id))
            ),
            UNAUTHENTICATED,
            reason,
        )

    async def jwks_kids(self) -> list[str]:
        response = await self.mesh.auth.GetJwks(auth_pb.GetJwksRequest())
        for key in response.keys:
            assert (key.kty, key.crv, key.alg, key.use) == ("EC", "P-256", "ES256", "sig")
        return sorted(key.kid for key in response.keys)

    async def rotate(self, token: str | None = None) -> admin_pb.RotateSigningKeyResponse:
        response: admin_pb.RotateSigningKeyResponse = await self.mesh.admin_stub("SigningKeyService").RotateSigningKey(
            admin_pb.RotateSigningKeyRequest(), metadata=bearer(token or self.admin)
        )
        return response


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path) -> AsyncIterator[World]:
    env = {
        "TENANTMESH_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS),
        # Retired keys are published for the longest token lifetime: API tokens' too.
        "TENANTMESH_API_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS),
    }
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        made = World(mesh=mesh, admin=await mesh.admin_token())
        try:
            yield made
        finally:
            if not db_backend_url.startswith("sqlite"):
                for tenant in made.created:
                    await mesh.runtime.db.drop_tenant_database(
                        TenantDatabase(tenant.database.server, tenant.database.database)
                    )


async def test_rotation_keeps_tokens_in_flight_valid_on_every_service(world: World) -> None:
    tenant = await world.tenant()
    in_flight = await world.member_login(tenant)
    old_kid = kid_of(in_flight.access_token)
    assert kid_of(world.admin) == old_kid
    assert await world.jwks_kids() == [old_kid]
    claims = jwt.decode(in_flight.access_token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == TOKEN_TTL_SECONDS

    rotated = await world.rotate()
    assert rotated.kid != old_kid
    assert sorted(rotated.published_kids) == sorted([old_kid, rotated.kid])

    # New tokens are signed with the new key ...
    fresh = await world.member_login(tenant)
    assert kid_of(fresh.access_token) == rotated.kid
    assert (
        kid_of(
            (
                await world.mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=in_flight.refresh_token))
            ).tokens.access_token
        )
        == rotated.kid
    )
    # ... and the token issued before the rotation is still good everywhere, as is the new one.
    await world.accepted_by_both(in_flight.access_token, tenant.tenant_id)
    await world.accepted_by_both(fresh.access_token, tenant.tenant_id)
    assert await world.jwks_kids() == sorted([old_kid, rotated.kid])

    # Rotation is audited with the operator as actor, and only platform operators may rotate.
    me = await world.mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(world.admin))
    async with world.mesh.runtime.db.core_session() as session:
        actors = (
            await session.execute(
                select(AuditEventRow.actor).where(
                    AuditEventRow.action == "auth.signing_key.created",
                    AuditEventRow.target == f"signing-key:{rotated.kid}",
                )
            )
        ).scalars()
        assert list(actors) == [me.subject]
    await expect_error(world.rotate(fresh.access_token), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert await world.jwks_kids() == sorted([old_kid, rotated.kid])


async def test_a_retired_key_is_published_for_one_token_lifetime_plus_leeway(world: World) -> None:
    old_kid = kid_of(world.admin)
    tenant = await world.tenant()
    in_flight = await world.member_login(tenant)
    middle = (await world.rotate()).kid
    newest = (await world.rotate()).kid
    assert await world.jwks_kids() == sorted([old_kid, middle, newest])

    async def retired(kid: str, seconds_ago: float) -> None:
        async with world.mesh.runtime.db.core_session() as session:
            await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == kid)
                .values(retire_time=utcnow() - timedelta(seconds=seconds_ago))
            )
            await session.commit()

    # The window is the token lifetime (2 s here) plus the verifiers' clock leeways and a minute.
    await retired(old_kid, 30 + ISSUED_AHEAD_LEEWAY_SECONDS)
    assert await world.jwks_kids() == sorted([old_kid, middle, newest])
    await retired(old_kid, outlived_after_seconds(TOKEN_TTL_SECONDS) + 30)
    assert await world.jwks_kids() == sorted([middle, newest])
    assert set(await world.mesh.auth_app.keys.published_keys()) == {middle, newest}

    # A service that did not see the old key before cannot verify its tokens any more.
    verifier = TokenVerifier(
        JwksCache(world.mesh.auth_app.keys.published_keys), issuer=world.mesh.runtime.settings.public_url
    )
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(in_flight.access_token)
    assert caught.value.reason == "TOKEN_INVALID"
    newer = await world.member_login(tenant)
    assert (await verifier.verify(newer.access_token)).tenant_id == tenant.tenant_id
    await world.accepted_by_both(newer.access_token, tenant.tenant_id)


async def test_private_keys_are_encrypted_at_rest(world: World) -> None:
    async with world.mesh.runtime.db.core_session() as session:
        rows = list((await session.execute(select(SigningKeyRow))).scalars())
    assert rows
    for row in rows:
        assert b"PRIVATE KEY" not in row.private_encrypted
        assert row.public_pem.startswith("-----BEGIN PUBLIC KEY-----")


async def test_api_keys_exchange_for_tokens_until_the_service_account_is_deleted(world: World) -> None:
    tenant = await world.tenant()
    accounts: Any = world.mesh.admin_stub("ServiceAccountService")
    created = await accounts.CreateServiceAccount(
        admin_pb.CreateServiceAccountRequest(service_account=user_pb2.ServiceAccount(name="billing-sync")),
        metadata=world.as_admin(tenant.tenant_id),
    )
    account_id = created.service_account.service_account_id

    async def exchange(key: str) -> auth_pb.TokenSet:
        tokens: auth_pb.TokenSet = (
            await world.mesh.auth.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=key))
        ).tokens
        return tokens

    tokens = await exchange(created.api_key)
    assert tokens.tenant_id == tenant.tenant_id
    assert tokens.refresh_token == ""  # client credentials: ask again with the key, no refresh
    me = await world.mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(tokens.access_token))
    assert me.subject == f"service-account:{account_id}"
    assert not me.HasField("user")
    await world.accepted_by_both(tokens.access_token, tenant.tenant_id)

    for wrong in (created.api_key[:-4] + "AAAA", "tmk_00000000_" + "x" * 43, "x" * 40):
        await expect_error(exchange(wrong), UNAUTHENTICATED, "API_KEY_INVALID")
    # The platform's own service key is no key of this tenant's: its token is the platform's.
    assert (await exchange(world.mesh.runtime.service_api_key or "")).tenant_id == PLATFORM_TENANT_ID

    await accounts.DeleteServiceAccount(
        admin_pb.DeleteServiceAccountRequest(service_account_id=account_id), metadata=world.as_admin(tenant.tenant_id)
    )
    await expect_error(exchange(created.api_key), UNAUTHENTICATED, "API_KEY_INVALID")
    await world.refused_by_both(tokens.access_token, tenant.tenant_id, "TOKEN_REVOKED")


@contextlib.asynccontextmanager
async def platform_as_configured(database_url: str, data_dir: Path, env: Mapping[str, str]) -> AsyncIterator[Platform]:
    """Like ``platform`` but with nothing preset: the administrator's password only if ``env`` has one."""
    runtime = await Runtime.open(mesh_settings(database_url, data_dir, **dict(env)))
    started: list[StartedApp] = []
    running: Platform | None = None
    try:
        tenants_app = TenantsApp(runtime)
        started.append(await start_app(tenants_app, runtime, "127.0.0.1:0"))
        auth_app = AuthApp(runtime)
        started.append(await start_app(auth_app, runtime, "127.0.0.1:0"))
        running = Platform(runtime=runtime, started=started)
        yield running
    finally:
        if running is not None:
            for channel in running.channels.values():
                await channel.close()
        await stop_apps(started, 0.5)
        await runtime.close()


async def _count(mesh: Platform, query: Any) -> int:
    async with mesh.runtime.db.core_session() as session:
        return int((await session.execute(query)).scalar_one())


async def test_bootstrap_generates_the_admin_password_once_and_is_idempotent(
    db_backend_url: str, tmp_path: Path
) -> None:
    no_password = {"TENANTMESH_ADMIN_EMAIL": ADMIN_EMAIL}
    key_file = tmp_path / SERVICE_KEY_FILE
    kek_file = tmp_path / "secrets" / "key-encryption-key"

    async with platform_as_configured(db_backend_url, tmp_path, no_password) as first:
        result = first.auth_app.bootstrap_result
        assert result is not None
        generated = result.generated_admin_password
        assert generated is not None
        assert len(generated) >= 16
        admin = await first.login("platform", ADMIN_EMAIL, generated)
        me = await first.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(admin.access_token))
        assert list(me.roles) == ["platform-admin"]
        admin_id = me.user.user_id
        service_key = key_file.read_text().strip()
        assert service_key == result.service_api_key
        kek = kek_file.read_bytes()

    for path in (key_file, kek_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700

    async with platform_as_configured(db_backend_url, tmp_path, no_password) as second:
        result = second.auth_app.bootstrap_result
        assert result is not None
        assert result.generated_admin_password is None  # shown once, on the first start only
        assert result.service_api_key == service_key
        # Same administrator, same password, and the first start's token still verifies (same keys).
        again = await second.login("platform", ADMIN_EMAIL, generated)
        assert (
            await second.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(again.access_token))
        ).user.user_id == admin_id
        await second.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(admin.access_token))
        exchanged = await second.auth.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=service_key))
        assert exchanged.tokens.tenant_id == PLATFORM_TENANT_ID

        assert await _count(second, select(func.count()).select_from(UserRow).where(UserRow.email == ADMIN_EMAIL)) == 1
        assert (
            await _count(
                second,
                select(func.count())
                .select_from(MembershipRow)
                .where(MembershipRow.roles_json.contains("platform-admin")),
            )
            == 1
        )
        for action in ("auth.bootstrap.admin_created", "auth.bootstrap.service_account_created"):
            assert (
                await _count(
                    second, select(func.count()).select_from(AuditEventRow).where(AuditEventRow.action == action)
                )
                == 1
            ), action

    assert key_file.read_text().strip() == service_key
    assert kek_file.read_bytes() == kek
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def test_rotated_key_is_published_before_it_signs(db_backend_url: str, tmp_path: Path) -> None:
    """Verifiers that cache the JWKS (Envoy) must learn a key before its first token exists."""
    env = {"TENANTMESH_SIGNING_KEY_ACTIVATION_DELAY_SECONDS": "2"}
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        admin = await mesh.admin_token()
        old_kid = kid_of(admin)
        rotated = await mesh.admin_stub("SigningKeyService").RotateSigningKey(
            admin_pb.RotateSigningKeyRequest(), metadata=bearer(admin)
        )
        published = await mesh.auth.GetJwks(auth_pb.GetJwksRequest())
        assert sorted(key.kid for key in published.keys) == sorted([old_kid, rotated.kid])
        # Published, but the old key still signs until the activation time.
        assert kid_of(await mesh.admin_token()) == old_kid

        new_kid = str(rotated.kid)

        async def rotated_key_signs() -> bool:
            return kid_of(await mesh.admin_token()) == new_kid

        # From the activation time (2 s after the rotation) on; the first token it signs ends the wait.
        await eventually(rotated_key_signs, within=3.1)


async def test_a_revocation_lasts_as_long_as_the_api_tokens_it_refuses(db_backend_url: str, tmp_path: Path) -> None:
    # API tokens configured to outlive access tokens: the revocation of a deleted service
    # account was kept for an access token's lifetime only (plus a minute), and once a
    # process pruned it (or restarted) the deleted account's token was accepted again.
    env = {"TENANTMESH_ACCESS_TOKEN_TTL_SECONDS": "60", "TENANTMESH_API_TOKEN_TTL_SECONDS": "3600"}
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        world = World(mesh=mesh, admin=await mesh.admin_token())
        try:
            tenant = await world.tenant()
            accounts: Any = mesh.admin_stub("ServiceAccountService")
            created = await accounts.CreateServiceAccount(
                admin_pb.CreateServiceAccountRequest(service_account=user_pb2.ServiceAccount(name="long-lived")),
                metadata=world.as_admin(tenant.tenant_id),
            )
            exchanged = await mesh.auth.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=created.api_key))
            token = exchanged.tokens.access_token
            expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
            await accounts.DeleteServiceAccount(
                admin_pb.DeleteServiceAccountRequest(service_account_id=created.service_account.service_account_id),
                metadata=world.as_admin(tenant.tenant_id),
            )
            await world.refused_by_both(token, tenant.tenant_id, "TOKEN_REVOKED")
            # A minute before the token expires, the list is swept as every process sweeps it.
            mesh.runtime.revocations.prune(now=expires - 60)
            await world.refused_by_both(token, tenant.tenant_id, "TOKEN_REVOKED")
        finally:
            for made in world.created if not db_backend_url.startswith("sqlite") else []:
                await mesh.runtime.db.drop_tenant_database(TenantDatabase(made.database.server, made.database.database))


async def test_no_part_of_a_configured_service_key_is_shown(db_backend_url: str, tmp_path: Path) -> None:
    # An operator's key need not have the generated form: its first 12 characters, stored as the
    # account's key prefix, were shown by ListServiceAccounts (a third of a 36-character key).
    configured = "correct-horse-battery-staple-and-ink"
    async with platform(db_backend_url, tmp_path, env={"TENANTMESH_SERVICE_API_KEY": configured}) as mesh:
        listed = await mesh.admin_stub("ServiceAccountService").ListServiceAccounts(
            admin_pb.ListServiceAccountsRequest(),
            metadata=(*bearer(await mesh.admin_token()), ("x-tenant-id", PLATFORM_TENANT_ID)),
        )
        (account,) = [a for a in listed.service_accounts if a.name == "mesh"]
        assert account.api_key_prefix == ""
        exchanged = await mesh.auth.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=configured))
        assert exchanged.tokens.tenant_id == PLATFORM_TENANT_ID
