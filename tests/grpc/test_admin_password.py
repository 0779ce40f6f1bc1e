"""The platform administrator's password on later starts, and `tenantctl admin reset-password`
through the mesh (service key) and straight in the database (mesh down)."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import grpc
import pytest
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb

from services.auth.models import AuditEventRow
from services.cli.tenantctl import build_parser, run
from services.mesh.banner import AdminLogin, banner
from services.mesh.edge import EdgeSettings
from tests.support.errors import expect_error
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, bearer, platform
from tests.support.secrets import assert_not_disclosed

# Too short (and nothing a message would say by chance): the refusal must not echo it.
WEAK = "Wk7!zq"

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def same_keys(first_data_dir: Path) -> dict[str, str]:
    """The first start's key-encryption key, for a restart with a data directory of its own."""
    return {"TENANTMESH_KEY_ENCRYPTION_KEY": (first_data_dir / "secrets" / "key-encryption-key").read_text().strip()}


async def test_the_admin_password_variable_applies_on_the_first_start_only(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        assert mesh.auth_app.bootstrap_result is not None
        assert not mesh.auth_app.bootstrap_result.admin_password_ignored
    later = {"TENANTMESH_ADMIN_PASSWORD": "another-password-set-later", **same_keys(tmp_path)}
    # A data directory of its own: the first start's service key file would make this in-process
    # platform (ports chosen at bind time) exchange it over a channel to a stale auth address.
    async with platform(db_backend_url, tmp_path / "restart", later) as mesh:
        result = mesh.auth_app.bootstrap_result
        assert result is not None
        assert result.admin_password_ignored
        assert result.generated_admin_password is None
        await mesh.admin_token()  # the first password still works
        await expect_error(
            mesh.login("platform", ADMIN_EMAIL, "another-password-set-later"), UNAUTHENTICATED, "INVALID_CREDENTIALS"
        )
        text = banner(
            mesh.runtime.settings,
            EdgeSettings(),
            None,
            [],
            AdminLogin(result.admin_email, None, result.admin_password_ignored),
        )
        assert "TENANTMESH_ADMIN_PASSWORD applies on the first start only" in text
        assert "tenantctl admin reset-password" in text


async def test_tenantctl_resets_the_admin_password_through_the_mesh(
    db_backend_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tenantmesh")
    async with platform(db_backend_url, tmp_path) as mesh:
        old = await mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)
        key = mesh.runtime.service_api_key
        assert key is not None
        args = build_parser().parse_args(
            [
                "--target",
                mesh.runtime.addresses["auth"],
                "--api-key",
                key,
                "admin",
                "reset-password",
                "--email",
                ADMIN_EMAIL,
                "--generate",
            ]
        )
        assert await run(args) == 0
        printed = capsys.readouterr().out
        new_password = printed.split("new password: ")[1].strip()
        await expect_error(mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD), UNAUTHENTICATED, "INVALID_CREDENTIALS")
        await mesh.login("platform", ADMIN_EMAIL, new_password)
        # Whoever held the old password lost the session with it.
        await expect_error(
            mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=old.refresh_token)),
            UNAUTHENTICATED,
            "REFRESH_TOKEN_INVALID",
        )
        await expect_error(
            mesh.auth.GetMe(auth_pb.GetMeRequest(), metadata=bearer(old.access_token)), UNAUTHENTICATED, "TOKEN_REVOKED"
        )
        # A weak password is refused and changes nothing.
        connection = ["--target", mesh.runtime.addresses["auth"], "--api-key", key]
        weak = build_parser().parse_args(
            [*connection, "admin", "reset-password", "--password-stdin", "--email", ADMIN_EMAIL]
        )
        stdin, sys.stdin = sys.stdin, io.StringIO(f"{WEAK}\n")
        try:
            assert await run(weak) == 1
        finally:
            sys.stdin = stdin
        refused = capsys.readouterr()
        assert "PASSWORD_TOO_WEAK" in refused.err
        # Why it was refused, never the password itself: not printed, not logged.
        assert_not_disclosed(WEAK, records=caplog.records, output=refused.out + refused.err)
        await mesh.login("platform", ADMIN_EMAIL, new_password)


async def test_tenantctl_resets_the_admin_password_in_the_database_while_the_mesh_is_down(
    db_backend_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        old = await mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)
    args = build_parser().parse_args(
        ["admin", "reset-password", "--generate", "--email", ADMIN_EMAIL, "--database", db_backend_url]
    )
    assert await run(args) == 0
    new_password = capsys.readouterr().out.split("new password: ")[1].strip()
    unknown = build_parser().parse_args(
        ["admin", "reset-password", "--generate", "--email", "nobody@example.test", "--database", db_backend_url]
    )
    assert await run(unknown) == 1
    assert "USER_NOT_FOUND" in capsys.readouterr().err
    async with platform(db_backend_url, tmp_path / "restart", same_keys(tmp_path)) as mesh:
        await expect_error(mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD), UNAUTHENTICATED, "INVALID_CREDENTIALS")
        await mesh.login("platform", ADMIN_EMAIL, new_password)
        await expect_error(
            mesh.auth.Refresh(auth_pb.RefreshRequest(refresh_token=old.refresh_token)),
            UNAUTHENTICATED,
            "REFRESH_TOKEN_INVALID",
        )
        from sqlalchemy import select  # noqa: PLC0415

        async with mesh.runtime.db.core_session() as session:
            events = list(
                (
                    await session.execute(
                        select(AuditEventRow).where(AuditEventRow.action == "auth.admin.password_reset")
                    )
                ).scalars()
            )
        assert [(e.actor, e.details_json) for e in events] == [("operator:tenantctl", '{"via": "database"}')]
