"""Tests touch no database outside their own prefix: every tenant database a run makes starts
with the name TEST_MYSQL_URL gives, plus a part of the run's own."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.engine import make_url

from services.runtime.db.placement import tenant_database_name
from tests.support.mesh import RUN_TENANT_DB_PREFIX, run_tenant_db_prefix


def test_tenant_databases_start_with_the_configured_name() -> None:
    prefix = run_tenant_db_prefix("mysql+asyncmy://root@127.0.0.1:3306/tm_edgegaps")
    assert prefix.startswith("tm_edgegaps_")
    # The platform tenant's database too: no shared `tenant_platform`.
    assert tenant_database_name("platform", prefix).startswith("tm_edgegaps_")
    # Each run its own.
    assert prefix != run_tenant_db_prefix("mysql+asyncmy://root@127.0.0.1:3306/tm_edgegaps")


def test_a_name_leaving_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        run_tenant_db_prefix("mysql+asyncmy://root@127.0.0.1:3306/tm_a_very_long_branch_name")


def test_this_run_uses_the_configured_name() -> None:
    configured = os.environ.get("TEST_MYSQL_URL")
    expected = make_url(configured).database if configured else "tm"
    assert RUN_TENANT_DB_PREFIX.startswith(f"{expected}_")
