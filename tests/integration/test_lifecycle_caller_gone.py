"""A ProvisionTenant whose caller goes away still brings the tenant's schema to head.

The caller's process dying or its deadline passing cancels the handler. Cancelled half way,
a migration on MariaDB (each DDL statement committed on its own) left the version table made
and no revision in it, and every later migrate-all failed on that tenant with INTERNAL
("table already exists"): found by tests/faults/test_migrate_crash.py. The work now runs to
its end whatever happens to the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2 as pb

from services.forms.app import FormsApp
from services.runtime.db import DatabaseRouter, TenantDatabase, current_revision, tenant_database_name
from services.runtime.lifecycle import SchemaLifecycleServicer
from services.runtime.tenant_db import placement_to_proto
from tests.support.migrations import head_of


@pytest.fixture
async def tenant(db_backend_url: str) -> AsyncIterator[tuple[DatabaseRouter, TenantDatabase]]:
    router = DatabaseRouter(db_backend_url)
    await router.start()
    db = TenantDatabase("default", tenant_database_name(f"gone{uuid.uuid4().hex[:8]}"))
    await router.create_tenant_database(db)
    try:
        yield router, db
    finally:
        await router.drop_tenant_database(db)
        await router.dispose()


async def _under_way() -> None:
    """A few turns of the loop: the call has started its migration, which needs far longer."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_schema_reaches_head_after_the_call_is_cancelled(
    tenant: tuple[DatabaseRouter, TenantDatabase],
) -> None:
    router, db = tenant
    migrations = FormsApp.tenant_migrations
    servicer = SchemaLifecycleServicer("forms", router, migrations)
    request = pb.ProvisionTenantRequest(tenant_id=str(uuid.uuid4()), database=placement_to_proto(db))
    call = asyncio.create_task(servicer.ProvisionTenant(request, None))  # type: ignore[arg-type]
    await _under_way()
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    assert call.cancelled()

    head = await servicer.provision(request.tenant_id, db)  # waits on the tenant's lock if still running
    assert head == head_of(migrations)
    assert await current_revision(router, migrations, db) == head


async def test_the_work_left_running_finishes_by_itself(tenant: tuple[DatabaseRouter, TenantDatabase]) -> None:
    router, db = tenant
    migrations = FormsApp.tenant_migrations
    servicer = SchemaLifecycleServicer("forms", router, migrations)
    request = pb.ProvisionTenantRequest(tenant_id=str(uuid.uuid4()), database=placement_to_proto(db))
    call = asyncio.create_task(servicer.ProvisionTenant(request, None))  # type: ignore[arg-type]
    await _under_way()
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    head = head_of(migrations)
    for _ in range(200):  # nobody asks again: the migration must get there on its own
        revision = await current_revision(router, migrations, db)
        if revision == head:
            break
        await asyncio.sleep(0.05)
    assert revision == head
