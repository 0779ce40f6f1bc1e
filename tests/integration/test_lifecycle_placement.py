"""ProvisionTenant and DeprovisionTenant refuse a placement that is not one of this platform's
tenant databases on a server the process knows, before any work, as INVALID_ARGUMENT (it was
INTERNAL for an unknown server: found by the descriptor fuzz, seed 3511958091)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2 as pb

from services.forms.app import FormsApp
from services.runtime.db import DatabaseRouter, TenantDatabase, tenant_database_name
from services.runtime.errors import CommonReason, InvalidArgument
from services.runtime.lifecycle import SchemaLifecycleServicer
from services.runtime.tenant_db import placement_to_proto
from tests.support.routers import migrated_router


@pytest.fixture
async def router(db_backend_url: str) -> AsyncIterator[DatabaseRouter]:
    async with migrated_router(db_backend_url, None) as started:
        yield started


async def test_a_placement_outside_the_platform_is_invalid_and_nothing_is_made(router: DatabaseRouter) -> None:
    servicer = SchemaLifecycleServicer("forms", router, FormsApp.tenant_migrations)
    name = tenant_database_name(f"placed{uuid.uuid4().hex[:8]}")
    for placement in (
        TenantDatabase("a-server-nobody-configured", name),
        TenantDatabase("default", "not_a_tenant_database"),
    ):
        database = placement_to_proto(placement)
        tenant_id = str(uuid.uuid4())
        with pytest.raises(InvalidArgument) as provision:
            await servicer.ProvisionTenant(pb.ProvisionTenantRequest(tenant_id=tenant_id, database=database), None)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument) as deprovision:
            await servicer.DeprovisionTenant(pb.DeprovisionTenantRequest(tenant_id=tenant_id, database=database), None)  # type: ignore[arg-type]
        assert provision.value.reason == deprovision.value.reason == CommonReason.DATABASE_PLACEMENT_INVALID
    assert not await router.tenant_database_exists(TenantDatabase("default", name))
