"""What whoever granted something holds now, for grants that take effect later (invitations).

A grant is checked against its grantor when it is made; an invitation is accepted days later,
by when its inviter may have been demoted, removed or disabled. Accepting asks again: the
invitation gives no more than its inviter holds at that moment.
"""

from __future__ import annotations

from collections.abc import Set

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.identities import get_membership, get_user, roles_of
from services.auth.models import MembershipRow, ServiceAccountRow
from services.auth.roles import RoleCatalog
from services.runtime.context import PLATFORM_TENANT_ID

# Everything: only a platform administrator holds it, and only they act on other tenants.
_ALL = "*"


async def still_holds(
    session: AsyncSession, catalog: RoleCatalog, tenant_id: str, grantor: str, permissions: Set[str]
) -> bool:
    """Whether ``grantor`` (an audit actor: ``user:<id>``, ``service-account:<id>``, or trusted
    code under any other name) holds every one of ``permissions`` in the tenant now."""
    kind, _, grantor_id = grantor.partition(":")
    if kind == "user":
        held = await _user_holds(session, catalog, tenant_id, grantor_id)
    elif kind == "service-account":
        held = await _account_holds(session, catalog, tenant_id, grantor_id)
    else:
        # Trusted code (a platform service, an operator's command) is bound by no grant check.
        return True
    return _ALL in held or permissions <= held


async def _user_holds(session: AsyncSession, catalog: RoleCatalog, tenant_id: str, user_id: str) -> frozenset[str]:
    user = await get_user(session, user_id)
    if user is None or user.disabled:
        return frozenset()
    membership = await get_membership(session, tenant_id, user_id)
    if membership is not None:
        return await catalog.held_permissions(session, tenant_id, roles_of(membership))
    return await _platform_override(session, catalog, await get_membership(session, PLATFORM_TENANT_ID, user_id))


async def _account_holds(
    session: AsyncSession, catalog: RoleCatalog, tenant_id: str, account_id: str
) -> frozenset[str]:
    account = await session.get(ServiceAccountRow, account_id)
    if account is None:
        return frozenset()
    if account.tenant_id == tenant_id:
        return await catalog.held_permissions(session, tenant_id, roles_of(account))
    return await _platform_override(session, catalog, account)


async def _platform_override(
    session: AsyncSession, catalog: RoleCatalog, holder: MembershipRow | ServiceAccountRow | None
) -> frozenset[str]:
    """A grantor from outside the tenant acted on it as a platform administrator: everything
    while they still are one, nothing otherwise."""
    if holder is None or holder.tenant_id != PLATFORM_TENANT_ID:
        return frozenset()
    held = await catalog.held_permissions(session, PLATFORM_TENANT_ID, roles_of(holder))
    return held if _ALL in held else frozenset()
