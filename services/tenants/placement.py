"""Which configured database server a new tenant's database goes to.

A new tenant goes to the server holding the fewest live tenants per unit of its weight
(``TENANTMESH_TENANT_DB_WEIGHTS``, 1 each unless configured); ties go to the server
named first. A server of weight 0 takes no new tenants, which is how an operator
drains one before moving its tenants away. Tenants are counted, not bytes or load:
a count is exact, cheap to read and what an operator can reason about; a server that
holds heavy tenants is given less weight. Two tenants created at the same instant
may land on the same server; the next ones even it out.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tenants.models import TenantRow
from services.tenants.states import TenantState

# Tenants whose database exists, or is being made or removed: what occupies a server.
_OCCUPYING = (TenantState.PROVISIONING, TenantState.ACTIVE, TenantState.SUSPENDED, TenantState.DELETING)


class ServerPlacement:
    def __init__(self, weights: Mapping[str, int]) -> None:
        if not any(weight > 0 for weight in weights.values()):
            raise ValueError("at least one database server must take new tenants")
        self._weights = dict(weights)

    async def choose(self, session: AsyncSession) -> str:
        """The server the next new tenant goes to."""
        takers = [name for name, weight in self._weights.items() if weight > 0]
        if len(takers) == 1:
            return takers[0]
        rows = await session.execute(
            select(TenantRow.db_server, func.count())
            .where(TenantRow.state.in_(_OCCUPYING), TenantRow.db_server.in_(takers))
            .group_by(TenantRow.db_server)
        )
        return pick_server(self._weights, {str(server): int(count) for server, count in rows.all()})


def pick_server(weights: Mapping[str, int], tenants: Mapping[str, int]) -> str:
    """The server of the lowest (tenants + 1) / weight among those of weight > 0, first on a tie.

    Counting the newcomer (+1) makes a weight-2 server take two tenants for each one a
    weight-1 server takes, instead of flooding the heavier server while both are empty.
    """
    best = min(
        (name for name, weight in weights.items() if weight > 0),
        key=lambda name: (tenants.get(name, 0) + 1) / weights[name],
    )
    return best
