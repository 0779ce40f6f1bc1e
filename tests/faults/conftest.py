"""Fixtures of the fault suite, and its report at the end of the run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from tests.conftest import MYSQL_URL_ENV, REDIS_URL_ENV, mysql_execute, unique_mysql_url
from tests.faults.budget import FULL
from tests.faults.report import REPORTS, table


def _require(variable: str) -> None:
    """Like the other server tests: skipped when the server is not configured, except under
    ``make test-faults``, which exists to run them; a configured server that is down fails."""
    if os.environ.get(variable):
        return
    if FULL:
        pytest.fail(f"{variable} is not set: the fault suite runs on MariaDB and Redis")
    pytest.skip(f"{variable} not set")


@pytest.fixture
async def fault_database_url() -> AsyncIterator[str]:
    """A fresh core database on TEST_MYSQL_URL's server: the suite needs MariaDB and fails without it."""
    _require(MYSQL_URL_ENV)
    url = unique_mysql_url()
    await mysql_execute(url, "SELECT 1")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await mysql_execute(url, f"DROP DATABASE IF EXISTS `{url.database}`")


@pytest.fixture
async def fault_redis_url() -> str:
    """TEST_REDIS_URL, emptied: the checker reads every consumer group on its stream."""
    _require(REDIS_URL_ENV)
    url = os.environ[REDIS_URL_ENV]
    client = redis.from_url(url)
    try:
        await client.flushdb()
    except Exception as exc:
        pytest.fail(f"Redis at {url} is not usable: {exc!r}")
    finally:
        await client.aclose()
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("fault scenarios")
        terminalreporter.write_line(table(REPORTS))
