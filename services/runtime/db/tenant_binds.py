"""A server engine's per-tenant views, made once and kept (MySQL).

A tenant's statements run on its server's pooled engine through a view of it
(``engine.execution_options(...)``) that routes them to the tenant's database and carries the
write-freeze and replica flags. A view shares its parent's pool, but making one copies the
options and joins the event dispatch: more than a small statement costs, and it was made on every
session and transaction. The views are kept by (engine, database, options), the most recently
used few thousand, so a process serving many tenants holds a bounded number.
"""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.db.write_freeze import REPLICA_OPTION, WRITES_FROZEN_OPTION

# Views kept; each is a few small objects around the parent's pool.
KEPT_VIEWS = 4096


class TenantBinds:
    def __init__(self, kept: int = KEPT_VIEWS) -> None:
        self._kept = kept
        # (id of the parent engine, database, frozen, replica) -> (parent, view). The parent is kept
        # alongside so that its id cannot be reused by another engine while the entry lives.
        self._views: OrderedDict[tuple[int, str, bool, bool], tuple[AsyncEngine, AsyncEngine]] = OrderedDict()

    def view(self, engine: AsyncEngine, database: str, *, frozen: bool = False, replica: bool = False) -> AsyncEngine:
        """``engine`` with its statements routed to ``database`` and the given flags."""
        key = (id(engine), database, frozen, replica)
        entry = self._views.get(key)
        if entry is not None and entry[0] is engine:
            self._views.move_to_end(key)
            return entry[1]
        options = {REPLICA_OPTION: True} if replica else {WRITES_FROZEN_OPTION: frozen}
        view = engine.execution_options(schema_translate_map={None: database}, **options)
        self._views[key] = (engine, view)
        if len(self._views) > self._kept:
            self._views.popitem(last=False)
        return view
