"""The identity row that ties a tenant database to its tenant.

Written once, when the tenants service's schema first reaches the database, and
checked whenever it matters: provisioning must not take over a database that
another tenant owns (a resumed attempt finds its own row), and GetCurrentTenant
must not describe a database it was misrouted to.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.runtime.clock import utcnow
from services.runtime.context import TenantContext
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.errors import FailedPrecondition
from services.tenants.models import TenantIdentityRow
from services.tenants.provisioning import DATABASE_CONFLICT

_IDENTITY: Table = TenantIdentityRow.__table__  # type: ignore[assignment]
_OWNERS = select(_IDENTITY.c.tenant_id)
_INSERT_IDENTITY = insert(_IDENTITY)


async def _owners(db: AsyncConnection | AsyncSession) -> list[str]:
    return list((await db.execute(_OWNERS)).scalars())


def _owned_by(owners: Sequence[str], tenant_id: str) -> bool:
    """True if the database is the tenant's, False if it is nobody's yet; refuses another tenant's."""
    if list(owners) == [tenant_id]:
        return True
    if owners:
        raise FailedPrecondition("the tenant database belongs to another tenant", reason=DATABASE_CONFLICT)
    return False


async def stamp_identity(router: DatabaseRouter, tenant_id: str, db: TenantDatabase) -> None:
    """Records ``tenant_id`` as the database's owner; refuses a database owned by another tenant.

    Provisioning may find the database already there (a resumed attempt): if it
    is this tenant's, that is fine; if it is another's, provisioning must stop
    rather than hand one tenant's data to another.
    """
    async with router.tenant_session(db) as session:
        if _owned_by(await _owners(session), tenant_id):
            return
        session.add(TenantIdentityRow(tenant_id=tenant_id, provision_time=utcnow()))
        await session.commit()


async def stamp_identity_on(conn: AsyncConnection, tenant_id: str, fresh: bool) -> None:
    """``stamp_identity`` on the migration's connection, inside its transaction (the caller commits).

    ``fresh``: the tenant schema was created from nothing by the same call, so
    ``tenant_identity`` is a table made moments ago and empty, and the owner check
    is skipped; otherwise it is done exactly as in ``stamp_identity``.
    """
    if not fresh and _owned_by(await _owners(conn), tenant_id):
        return
    await conn.execute(_INSERT_IDENTITY, {"tenant_id": tenant_id, "provision_time": utcnow()})


async def verify_identity(router: DatabaseRouter, tenant: TenantContext) -> None:
    """Refuses to go on in a database that is not stamped as ``tenant``'s (a misrouted session)."""
    async with router.tenant_session(tenant.database) as session:
        if not _owned_by(await _owners(session), tenant.tenant_id):
            raise FailedPrecondition("the tenant database has no owner", reason=DATABASE_CONFLICT)
