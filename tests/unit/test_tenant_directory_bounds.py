"""The services' tenant cache stays bounded under lookups of ids that do not exist (100,000
random ids used to leave 100,001 entries behind, 20 MB, after their time to live)."""

from __future__ import annotations

import uuid

from services.runtime.context import TenantContext
from services.runtime.tenant_directory import CachedTenantDirectory


class NoTenants:
    async def lookup(self, tenant_id: str) -> TenantContext | None:
        return None


async def test_negative_entries_are_bounded() -> None:
    directory = CachedTenantDirectory(NoTenants(), ttl_seconds=60, max_entries=1_000)
    for _ in range(20_000):
        assert await directory.lookup(str(uuid.uuid4())) is None
    assert len(directory._entries) <= 1_000
