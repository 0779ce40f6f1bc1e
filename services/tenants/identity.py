"""The identity row that ties a tenant database to its tenant."""

from __future__ import annotations

from sqlalchemy import select

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.errors import FailedPrecondition
from services.tenants.models import TenantIdentityRow
from services.tenants.provisioning import DATABASE_CONFLICT


async def stamp_identity(router: DatabaseRouter, tenant_id: str, db: TenantDatabase) -> None:
    """Records ``tenant_id`` as the database's owner; refuses a database owned by another tenant.

    Provisioning may find the database already there (a resumed attempt): if it
    is this tenant's, that is fine; if it is another's, provisioning must stop
    rather than hand one tenant's data to another.
    """
    async with router.tenant_session(db) as session:
        owners = list((await session.execute(select(TenantIdentityRow.tenant_id))).scalars())
        if owners == [tenant_id]:
            return
        if owners:
            raise FailedPrecondition("the tenant database belongs to another tenant", reason=DATABASE_CONFLICT)
        session.add(TenantIdentityRow(tenant_id=tenant_id, provision_time=utcnow()))
        await session.commit()
