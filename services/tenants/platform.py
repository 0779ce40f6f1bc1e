"""The platform tenant: where platform administrators and the platform's
service account are members. It exists from the first start, with a fixed id
every service knows (``PLATFORM_TENANT_ID``), and is created here directly:
provisioning through the lifecycle API would need a token, and tokens need
this tenant to exist.
"""

from __future__ import annotations

import json

from sqlalchemy.exc import IntegrityError

from services.runtime.clock import utcnow
from services.runtime.context import PLATFORM_TENANT_ID, PLATFORM_TENANT_SLUG
from services.runtime.db import DatabaseRouter, MigrationSet, TenantDatabase, tenant_database_name, upgrade_tenant
from services.tenants import repository as repo
from services.tenants.identity import stamp_identity
from services.tenants.models import TenantRow
from services.tenants.provisioning import DATABASE_STEP
from services.tenants.states import StepState, TenantState


async def ensure_platform_tenant(db: DatabaseRouter, server: str, migrations: MigrationSet, service: str) -> None:
    """Creates the platform tenant, ACTIVE, with this service's schema in its database; idempotent.

    Other tenant-scoped services bring their schema to head in it when they
    start (ServiceApp.migrate_platform_tenant), or through the migrate-all run
    (`tenantctl migrate`) like any tenant.
    """
    async with db.core_session() as session:
        if await repo.get_row(session, PLATFORM_TENANT_ID) is not None:
            return
    placement = TenantDatabase(server=server, name=tenant_database_name(PLATFORM_TENANT_SLUG, db.tenant_db_prefix))
    await db.create_tenant_database(placement)
    version = await upgrade_tenant(db, placement, migrations)
    await stamp_identity(db, PLATFORM_TENANT_ID, placement)
    now = utcnow()
    row = TenantRow(
        tenant_id=PLATFORM_TENANT_ID,
        slug=PLATFORM_TENANT_SLUG,
        former_slug=PLATFORM_TENANT_SLUG,
        display_name="Platform",
        state=TenantState.ACTIVE,
        plan="platform",
        settings_json=json.dumps({}),
        db_server=server,
        db_name=placement.name,
        db_writes_frozen=False,
        failure_reason="",
        revision=1,
        create_request_id=None,
        lease_until=None,
        create_time=now,
        update_time=now,
        delete_time=None,
    )
    try:
        async with db.core_session() as session:
            await repo.add_tenant(session, row, {}, (DATABASE_STEP, service), now)
            await repo.set_step(session, PLATFORM_TENANT_ID, DATABASE_STEP, StepState.DONE, now)
            await repo.set_step(session, PLATFORM_TENANT_ID, service, StepState.DONE, now, version)
            await session.commit()
    except IntegrityError:
        # Another replica created it at the same moment.
        return
