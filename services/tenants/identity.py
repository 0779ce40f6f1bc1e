"""The identity row that ties a tenant database to its tenant."""

from __future__ import annotations

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.errors import FailedPrecondition
from services.tenants.models import TenantIdentityRow
from services.tenants.provisioning import DATABASE_CONFLICT

_IDENTITY: Table = TenantIdentityRow.__table__  # type: ignore[assignment]
_OWNERS = select(_IDENTITY.c.tenant_id)
_INSERT_IDENTITY = insert(_IDENTITY)


def _conflict() -> FailedPrecondition:
    return FailedPrecondition("the tenant database belongs to another tenant", reason=DATABASE_CONFLICT)


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
            raise _conflict()
        session.add(TenantIdentityRow(tenant_id=tenant_id, provision_time=utcnow()))
        await session.commit()


async def stamp_identity_on(conn: AsyncConnection, tenant_id: str, fresh: bool) -> None:
    """``stamp_identity`` on the migration's connection, inside its transaction (the caller commits).

    ``fresh``: the tenant schema was created from nothing by the same call, so
    ``tenant_identity`` is a table made moments ago and empty, and the owner check
    is skipped; otherwise it is done exactly as in ``stamp_identity``.
    """
    if not fresh:
        owners = list((await conn.execute(_OWNERS)).scalars())
        if owners == [tenant_id]:
            return
        if owners:
            raise _conflict()
    await conn.execute(_INSERT_IDENTITY, {"tenant_id": tenant_id, "provision_time": utcnow()})
