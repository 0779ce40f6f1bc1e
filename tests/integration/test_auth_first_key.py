"""Auth replicas starting together on an empty MariaDB core database make one first signing key.

Each replica here has its own DatabaseRouter (its own pool, its own server
sessions), as separate processes would; the named lock is what serialises them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from services.auth.app import CORE_MIGRATIONS
from services.auth.keys import KeyEncryption, SigningKeyStore
from services.auth.models import SigningKeyRow
from services.runtime.db import DatabaseRouter, upgrade_core
from tests.conftest import MYSQL_URL_ENV, mysql_execute, unique_mysql_url

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.skipif(not os.environ.get(MYSQL_URL_ENV), reason=f"{MYSQL_URL_ENV} not set"),
]

REPLICAS = 4


@pytest.fixture
async def routers() -> AsyncIterator[list[DatabaseRouter]]:
    url = unique_mysql_url()
    started: list[DatabaseRouter] = []
    try:
        for _ in range(REPLICAS):
            router = DatabaseRouter(url.render_as_string(hide_password=False))
            await router.start()
            started.append(router)
        await upgrade_core(started[0], CORE_MIGRATIONS)
        for router in started:
            # A connection in every pool already: the replicas' first reads then really overlap.
            async with router.core_connection() as conn:
                await conn.execute(text("SELECT 1"))
        yield started
    finally:
        for router in started:
            await router.dispose()
        await mysql_execute(url, f"DROP DATABASE IF EXISTS `{url.database}`")


async def test_replicas_starting_together_share_one_first_key(routers: list[DatabaseRouter]) -> None:
    encryption = KeyEncryption(os.urandom(32))
    stores = [SigningKeyStore(router, encryption, access_token_ttl_seconds=900) for router in routers]
    keys = await asyncio.gather(*(store.active() for store in stores))
    assert len({key.kid for key in keys}) == 1, [key.kid for key in keys]
    async with routers[0].core_session() as session:
        count = (await session.execute(select(func.count()).select_from(SigningKeyRow))).scalar_one()
    assert count == 1
