"""Shared fixtures: database backend selection (SQLite always, MariaDB when TEST_MYSQL_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as redis
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# A real S3 server (SeaweedFS) for blob store tests: ``s3_server``, and ``s3_bucket`` per test.
from tests.support.s3 import s3_bucket, s3_server  # noqa: F401

# A real SMTP server (aiosmtpd) for mail tests: ``smtp_server`` (and the TLS material it serves with).
from tests.support.smtp import smtp_server, smtp_tls_dir  # noqa: F401

MYSQL_URL_ENV = "TEST_MYSQL_URL"
REDIS_URL_ENV = "TEST_REDIS_URL"


def own_redis_database(url: str, worker: str | None) -> str:
    """``url`` for one pytest-xdist worker (``gw0``, ``gw1``, ...): a database number of its own,
    below the configured one (above it when there is no room), since tests flush the database
    they use. Unchanged outside xdist."""
    if not worker:
        return url
    offset = int(worker.removeprefix("gw"))
    parts = urlsplit(url)
    configured = int(parts.path.strip("/") or 0)
    number = configured - offset if configured >= offset else configured + offset
    return urlunsplit(parts._replace(path=f"/{number}"))


if os.environ.get(REDIS_URL_ENV):
    # Before any fixture reads it, and inherited by the processes tests start.
    os.environ[REDIS_URL_ENV] = own_redis_database(os.environ[REDIS_URL_ENV], os.environ.get("PYTEST_XDIST_WORKER"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A fault scenario measures recovery times under its own load: it runs in make test's serial part.
    for item in items:
        if item.get_closest_marker("faults"):
            item.add_marker(pytest.mark.serial)


def db_backend_params() -> list[object]:
    """Parameters for a backend-parametrised fixture: sqlite always, mysql only if configured."""
    mysql_marks = [pytest.mark.mysql]
    if not os.environ.get(MYSQL_URL_ENV):
        mysql_marks.append(pytest.mark.skip(reason=f"{MYSQL_URL_ENV} not set"))
    return [pytest.param("sqlite", id="sqlite"), pytest.param("mysql", id="mysql", marks=mysql_marks)]


def unique_mysql_url() -> URL:
    """TEST_MYSQL_URL with a per-call unique database name (the name in the env is a prefix)."""
    base = make_url(os.environ[MYSQL_URL_ENV])
    prefix = base.database or "tm_test"
    return base.set(database=f"{prefix}_{uuid.uuid4().hex[:12]}")


async def mysql_execute(url: URL, *statements: str) -> None:
    """Run raw statements on the server of ``url`` without selecting a database.

    Fails (never skips) when the server is unreachable: a configured backend that is down is a
    broken test environment, not an optional feature.
    """
    engine = create_async_engine(url._replace(database=None), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
    except Exception as exc:
        pytest.fail(f"MariaDB/MySQL at {url.render_as_string()} is not usable: {exc!r}")
    finally:
        await engine.dispose()


@pytest.fixture(params=db_backend_params())
async def db_backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An async SQLAlchemy URL for a fresh, unique core database on the selected backend.

    On MySQL the core database is dropped afterwards; tests must drop what else they create.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'core.db'}"
        return
    url = unique_mysql_url()
    await mysql_execute(url, "SELECT 1")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await mysql_execute(url, f"DROP DATABASE IF EXISTS `{url.database}`")


@pytest.fixture(scope="session", autouse=True)
async def drop_run_tenant_databases() -> AsyncIterator[None]:
    """At the end of the run, drops every tenant database this run made on MariaDB (its own prefix)."""
    yield
    if not os.environ.get(MYSQL_URL_ENV):
        return
    from tests.support.mesh import RUN_TENANT_DB_PREFIX  # noqa: PLC0415 - keeps this module import-light

    url = make_url(os.environ[MYSQL_URL_ENV])
    engine = create_async_engine(url._replace(database=None), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.exec_driver_sql(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                (RUN_TENANT_DB_PREFIX.replace("_", "\\_") + "%",),
            )
            for (name,) in list(rows):
                await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        await engine.dispose()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """TEST_REDIS_URL, flushed before and after use (a run leaves no keys behind); skips when unset,
    fails when set but unreachable."""
    url = os.environ.get(REDIS_URL_ENV)
    if not url:
        pytest.skip(f"{REDIS_URL_ENV} not set")
    client = redis.from_url(url)
    try:
        await client.ping()
        await client.flushdb()
    except Exception as exc:
        await client.aclose()
        pytest.fail(f"Redis at {url} is not usable: {exc!r}")
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()
