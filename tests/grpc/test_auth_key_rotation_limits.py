"""The JWKS stays bounded: rotations closer together than the minimum interval are refused
(60 rotations used to leave 61 keys published), and a retired key is published for the
longest token lifetime — an API token's when that is longer than an access token's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
from sqlalchemy import update
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb

from services.auth.models import SigningKeyRow
from services.runtime.auth.verifier import ISSUED_AHEAD_LEEWAY_SECONDS, outlived_after_seconds
from services.runtime.clock import utcnow
from tests.support.errors import expect_error, retry_info
from tests.support.platform import Platform, bearer, platform

MIN_ROTATION_SECONDS = 120


async def _rotate(mesh: Platform, admin: str) -> admin_pb.RotateSigningKeyResponse:
    response: admin_pb.RotateSigningKeyResponse = await mesh.admin_stub("SigningKeyService").RotateSigningKey(
        admin_pb.RotateSigningKeyRequest(), metadata=bearer(admin)
    )
    return response


async def test_rotations_within_the_minimum_interval_are_refused(db_backend_url: str, tmp_path: Path) -> None:
    env = {"TENANTMESH_SIGNING_KEY_MIN_ROTATION_SECONDS": str(MIN_ROTATION_SECONDS)}
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        admin = await mesh.admin_token()
        # The first key was made at start-up, just now: a rotation is too soon already.
        error = await expect_error(
            _rotate(mesh, admin), grpc.StatusCode.RESOURCE_EXHAUSTED, "SIGNING_KEY_ROTATION_TOO_SOON"
        )
        delay = retry_info(error)
        assert delay is not None
        assert 0 < delay.retry_delay.ToTimedelta().total_seconds() <= MIN_ROTATION_SECONDS
        # Once the interval has passed (the key's start moved back), one rotation goes through ...
        async with mesh.runtime.db.core_session() as session:
            await session.execute(
                update(SigningKeyRow).values(create_time=utcnow() - timedelta(seconds=MIN_ROTATION_SECONDS + 1))
            )
            await session.commit()
        rotated = await _rotate(mesh, admin)
        # ... and the next ones are refused: 60 attempts publish no more keys.
        for _ in range(60):
            await expect_error(
                _rotate(mesh, admin), grpc.StatusCode.RESOURCE_EXHAUSTED, "SIGNING_KEY_ROTATION_TOO_SOON"
            )
        assert len(await mesh.auth_app.keys.published_keys()) == len(rotated.published_kids) == 2


async def test_a_retired_key_stays_published_for_the_api_token_lifetime(db_backend_url: str, tmp_path: Path) -> None:
    env = {"TENANTMESH_ACCESS_TOKEN_TTL_SECONDS": "60", "TENANTMESH_API_TOKEN_TTL_SECONDS": "3600"}
    async with platform(db_backend_url, tmp_path, env=env) as mesh:
        admin = await mesh.admin_token()
        old = set(await mesh.auth_app.keys.published_keys())
        await _rotate(mesh, admin)

        async def retired_ago(seconds: float) -> None:
            async with mesh.runtime.db.core_session() as session:
                await session.execute(
                    update(SigningKeyRow)
                    .where(SigningKeyRow.kid.in_(old))
                    .values(retire_time=utcnow() - timedelta(seconds=seconds))
                )
                await session.commit()

        # Past the access-token lifetime but within an API token's: an API token it signed is
        # still valid, so the key is still published.
        await retired_ago(60 + 60 + 30)
        assert old <= set(await mesh.auth_app.keys.published_keys())
        # An API token signed just before the retirement by an auth process whose clock ran ahead
        # (as far as verifiers allow) is accepted until its expiry on that clock: still published.
        await retired_ago(3600 + ISSUED_AHEAD_LEEWAY_SECONDS)
        assert old <= set(await mesh.auth_app.keys.published_keys())
        await retired_ago(outlived_after_seconds(3600) + 30)
        assert not old & set(await mesh.auth_app.keys.published_keys())
