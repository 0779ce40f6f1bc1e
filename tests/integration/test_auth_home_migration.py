"""auth_core_0003 on a database that has users: each gets a home tenant (the first tenant they
joined; the platform tenant for platform administrators and for users without a membership),
memberships get the member's email, and email becomes unique per home instead of platform-wide.
auth_core_0004 then removes the platform tenant's memberships of identities homed elsewhere.
On SQLite and MariaDB, replayed from the rendered statements (what the runner does) and by
Alembic online."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.db import DatabaseRouter, MigrationSet, upgrade_core
from tests.support.migrations import run_online

MIGRATIONS = Path("services/auth/migrations/core")
VERSIONS = MIGRATIONS / "versions"
BEFORE_HOMES = ("0001_auth.py", "0002_refresh_successor.py")
HOMES = "0003_home_tenants.py"
TENANT_A = "01900000-0000-7000-8000-00000000000a"
TENANT_B = "01900000-0000-7000-8000-00000000000b"


INSERT_HOMED = text(
    "INSERT INTO auth_users (user_id, home_tenant_id, email, display_name, password_hash, disabled, email_verified, "
    "pending_email, revision, create_time, update_time) VALUES (:user_id, :home, :email, :display_name, "
    ":password_hash, :disabled, 0, '', :revision, :create_time, :update_time)"
)


@pytest.fixture(params=["replay", "online"])
async def router(
    request: pytest.FixtureRequest, db_backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[DatabaseRouter]:
    """A started router on the backend, its migrations replayed from rendered statements (what the
    runner does) or run by Alembic online."""
    if request.param == "online":
        run_online(monkeypatch)
    started = DatabaseRouter(db_backend_url)
    await started.start()
    try:
        yield started
    finally:
        await started.dispose()


def history(tmp_path: Path, *names: str) -> MigrationSet:
    """The auth core history as it was when ``names`` were its revisions."""
    folder = tmp_path / "core"
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(VERSIONS / name, folder / "versions" / name)
    return MigrationSet("auth", "core", folder)


def _user(user_id: str, email: str) -> dict[str, object]:
    return {
        "user_id": user_id,
        "email": email,
        "display_name": email,
        "password_hash": "x",
        "disabled": False,
        "revision": 1,
        "create_time": "2026-01-01 00:00:00",
        "update_time": "2026-01-01 00:00:00",
    }


async def test_existing_users_are_homed_and_keep_their_emails(router: DatabaseRouter, tmp_path: Path) -> None:
    assert await upgrade_core(router, history(tmp_path, *BEFORE_HOMES)) == "auth_core_0002"
    users = {
        "u-admin": "admin@example.test",  # platform administrator, later also a member of A
        "u-shared": "shared@example.test",  # joined B first, then A
        "u-a": "a@example.test",
        "u-loner": "loner@example.test",  # no membership at all
    }
    memberships = [
        ("u-admin", PLATFORM_TENANT_ID, '["platform-admin"]', "2026-01-01 00:00:01"),
        ("u-admin", TENANT_A, '["tenant-admin"]', "2026-01-01 00:00:00"),
        ("u-shared", TENANT_B, '["member"]', "2026-01-01 00:00:01"),
        ("u-shared", TENANT_A, '["member"]', "2026-01-01 00:00:02"),
        ("u-a", TENANT_A, '["member"]', "2026-01-01 00:00:03"),
    ]
    async with router.core_session() as session:
        for user_id, email in users.items():
            await session.execute(
                text(
                    "INSERT INTO auth_users (user_id, email, display_name, password_hash, disabled, revision, "
                    "create_time, update_time) VALUES (:user_id, :email, :display_name, :password_hash, "
                    ":disabled, :revision, :create_time, :update_time)"
                ),
                _user(user_id, email),
            )
        for user_id, tenant_id, roles, created in memberships:
            await session.execute(
                text(
                    "INSERT INTO auth_memberships (tenant_id, user_id, roles_json, revision, create_time) "
                    "VALUES (:tenant_id, :user_id, :roles, 1, :created)"
                ),
                {"tenant_id": tenant_id, "user_id": user_id, "roles": roles, "created": created},
            )
        await session.commit()

    assert await upgrade_core(router, history(tmp_path, *BEFORE_HOMES, HOMES)) == "auth_core_0003"

    async with router.core_session() as session:
        homes: dict[str, str] = {
            u: h for u, h in await session.execute(text("SELECT user_id, home_tenant_id FROM auth_users"))
        }
        member_emails = {
            (u, t): e
            for u, t, e in (await session.execute(text("SELECT user_id, tenant_id, email FROM auth_memberships")))
        }
    assert homes == {
        "u-admin": PLATFORM_TENANT_ID,
        "u-shared": TENANT_B,
        "u-a": TENANT_A,
        "u-loner": PLATFORM_TENANT_ID,
    }
    assert member_emails[("u-shared", TENANT_A)] == "shared@example.test"
    assert len(member_emails) == len(memberships)

    async with router.core_session() as session:
        # The same address may now be homed in another tenant...
        row = {**_user("u-other", "a@example.test"), "home": TENANT_B}
        await session.execute(INSERT_HOMED, row)
        await session.commit()
    # ...but not twice in one.
    async with router.core_session() as session:
        with pytest.raises(IntegrityError):
            await session.execute(INSERT_HOMED, {**row, "user_id": "u-twice"})


async def test_platform_memberships_of_identities_homed_elsewhere_are_removed(
    router: DatabaseRouter, tmp_path: Path
) -> None:
    assert await upgrade_core(router, history(tmp_path, *BEFORE_HOMES, HOMES)) == "auth_core_0003"
    homes = {"u-operator": PLATFORM_TENANT_ID, "u-a": TENANT_A, "u-b": TENANT_B}
    memberships = [
        ("u-operator", PLATFORM_TENANT_ID, "operator@example.test"),
        ("u-a", TENANT_A, "a@example.test"),
        ("u-a", PLATFORM_TENANT_ID, "a@example.test"),  # made before the rule: A's admins held it
        ("u-b", TENANT_B, "b@example.test"),
    ]
    sessions = [  # (session, subject, tenant)
        ("s-operator", "user:u-operator", PLATFORM_TENANT_ID),
        ("s-a-platform", "user:u-a", PLATFORM_TENANT_ID),
        ("s-a-home", "user:u-a", TENANT_A),
    ]
    async with router.core_session() as session:
        for user_id, home in homes.items():
            email = next(e for u, _, e in memberships if u == user_id)
            await session.execute(INSERT_HOMED, {**_user(user_id, email), "home": home})
        for user_id, tenant_id, email in memberships:
            await session.execute(
                text(
                    "INSERT INTO auth_memberships (tenant_id, user_id, roles_json, revision, create_time, email, "
                    "title) VALUES (:tenant_id, :user_id, :roles, 1, '2026-01-01 00:00:00', :email, '')"
                ),
                {"tenant_id": tenant_id, "user_id": user_id, "roles": '["tenant-admin"]', "email": email},
            )
        for session_id, subject, tenant_id in sessions:
            await session.execute(
                text(
                    "INSERT INTO auth_sessions (session_id, subject, tenant_id, create_time, expire_time, "
                    "revoke_time, revoke_reason) VALUES (:session_id, :subject, :tenant_id, "
                    "'2026-01-01 00:00:00', '2099-01-01 00:00:00', NULL, '')"
                ),
                {"session_id": session_id, "subject": subject, "tenant_id": tenant_id},
            )
        await session.commit()

    assert await upgrade_core(router, MigrationSet("auth", "core", MIGRATIONS)) == "auth_core_0004"

    async with router.core_session() as session:
        left = set(await session.execute(text("SELECT user_id, tenant_id FROM auth_memberships")))
        ended: dict[str, str] = {
            s: r for s, r in await session.execute(text("SELECT session_id, revoke_reason FROM auth_sessions"))
        }
        users = {u for (u,) in await session.execute(text("SELECT user_id FROM auth_users"))}
    assert left == {(u, t) for u, t, _ in memberships} - {("u-a", PLATFORM_TENANT_ID)}
    assert ended == {"s-operator": "", "s-a-platform": "MEMBERSHIP_REMOVED", "s-a-home": ""}
    assert users == set(homes)
