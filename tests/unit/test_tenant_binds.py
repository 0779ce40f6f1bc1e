"""A server engine's per-tenant views are made once per database and flags, and only so many kept."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import create_async_engine

from services.runtime.db.tenant_binds import TenantBinds
from services.runtime.db.write_freeze import REPLICA_OPTION, WRITES_FROZEN_OPTION

URL = "mysql+asyncmy://root@127.0.0.1:3306/tm_unused"


async def test_a_view_routes_to_its_database_with_its_flags_and_is_made_once() -> None:
    engine = create_async_engine(URL)
    binds = TenantBinds()
    view = binds.view(engine, "tm_x_acme")
    assert binds.view(engine, "tm_x_acme") is view
    options = view.get_execution_options()
    assert options["schema_translate_map"] == {None: "tm_x_acme"}
    assert options[WRITES_FROZEN_OPTION] is False
    frozen = binds.view(engine, "tm_x_acme", frozen=True)
    assert frozen is not view
    assert frozen.get_execution_options()[WRITES_FROZEN_OPTION] is True
    replica = binds.view(engine, "tm_x_acme", replica=True)
    assert replica.get_execution_options()[REPLICA_OPTION] is True
    assert binds.view(engine, "tm_x_other").get_execution_options()["schema_translate_map"] == {None: "tm_x_other"}
    # Another engine (another server) never gets this one's views.
    other_server = create_async_engine(URL)
    assert binds.view(other_server, "tm_x_acme").sync_engine.pool is other_server.sync_engine.pool
    assert view.sync_engine.pool is engine.sync_engine.pool
    await engine.dispose()
    await other_server.dispose()


async def test_only_the_most_recently_used_views_are_kept() -> None:
    engine = create_async_engine(URL)
    binds = TenantBinds(kept=2)
    first = binds.view(engine, "tm_x_a")
    second = binds.view(engine, "tm_x_b")
    assert binds.view(engine, "tm_x_a") is first  # used again: now the most recent
    binds.view(engine, "tm_x_c")  # pushes out b, the least recently used
    assert binds.view(engine, "tm_x_a") is first
    assert binds.view(engine, "tm_x_b") is not second  # made again
    await engine.dispose()
