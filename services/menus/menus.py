"""Menus: the domain behind MenuService's handlers.

A tenant's menu model (every entry, overrides applied) is built from the platform's entries, the
sources (enabled services, published forms) and the tenant's database, and cached per tenant; the
menu a caller sees is cut from it for the caller's permission set and locale and cached per
(tenant, permission set, locale). Both are dropped by the events that announce a change to
anything they are made of, in every process (see ``INVALIDATING_EVENTS``); a time to live bounds
staleness should an event be lost.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from tenantmesh.menus.v1 import menu_service_pb2 as pb

from services.menus import convert
from services.menus.entries import Entry, normalise_locale
from services.menus.models import CustomEntryRow, MenuOverrideRow
from services.menus.sources import EntrySource
from services.menus.store import MenuStore, custom_entry_of, override_of
from services.menus.tree import MenuModel, build_model, visible
from services.runtime.cache import MISS, Cache
from services.runtime.context import current_principal, current_tenant
from services.runtime.events import Event, EventBus

# Event type prefixes that change a tenant's menus, and whether they concern every tenant.
INVALIDATING_EVENTS = (
    ("tenant_service.", False),  # a service enabled, disabled or reconfigured for the tenant
    ("service.", True),  # the catalogue: a service registered, updated (its menu entries), deleted
    ("form.", False),  # a form published or archived
    ("menu.", False),  # the tenant's overrides and custom entries
    ("tenant.", False),  # suspended, resumed, deleted
    ("auth.revoked", False),  # roles and memberships (the reverse lookups ask auth every time)
)
SUPPORTED_LOCALES = ("en", "id")
_TTL_SECONDS = 60.0


@dataclass(frozen=True)
class TenantMenu:
    model: MenuModel
    override_rows: dict[str, MenuOverrideRow]
    custom_rows: dict[str, CustomEntryRow]


def answer_locale(locale: str) -> str:
    language = locale.split("-", 1)[0]
    return language if language in SUPPORTED_LOCALES else "en"


def menu_etag(items: Sequence[object], locale: str) -> str:
    digest = hashlib.sha256(locale.encode())
    for item in items:
        digest.update(item.SerializeToString(deterministic=True))  # type: ignore[attr-defined]
    return digest.hexdigest()[:24]


class MenuBook:
    """Builds, caches and evaluates tenants' menus."""

    def __init__(self, store: MenuStore, platform: Sequence[Entry], sources: Sequence[EntrySource]) -> None:
        self.store = store
        self._platform = tuple(platform)
        self._sources = tuple(sources)
        self._models: Cache[str, TenantMenu] = Cache("menus.models", ttl_seconds=_TTL_SECONDS, max_entries=2_000)
        self._menus: Cache[tuple[str, frozenset[str], str], pb.GetMyMenuResponse] = Cache(
            "menus.trees", ttl_seconds=_TTL_SECONDS, max_entries=20_000
        )
        # Bumped by every drop: a model built across a drop is answered but not cached.
        self._generation: dict[str, int] = {}
        self._all_generation = 0
        self._building: dict[tuple[str, int, int], asyncio.Task[TenantMenu]] = {}
        self.builds = 0

    def subscribe(self, events: EventBus) -> None:
        for prefix, everyone in INVALIDATING_EVENTS:
            events.subscribe(prefix, self._drop_all if everyone else self._drop_tenant)

    async def _drop_tenant(self, event: Event) -> None:
        if event.tenant_id:
            self.drop(event.tenant_id)

    async def _drop_all(self, event: Event) -> None:
        self.drop(None)

    def drop(self, tenant_id: str | None) -> None:
        if tenant_id is None:
            self._all_generation += 1
            self._models.clear()
            self._menus.clear()
            return
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
        self._models.pop(tenant_id)
        self._menus.drop_where(lambda key, _: key[0] == tenant_id)

    async def tenant_menu(self, *, fresh: bool = False) -> TenantMenu:
        """The current tenant's model; ``fresh`` skips the cache (writes validate against it)."""
        tenant_id = current_tenant().tenant_id
        if not fresh:
            cached = self._models.get(tenant_id)
            if cached is not MISS:
                return cached
        flight = (tenant_id, self._all_generation, self._generation.get(tenant_id, 0))
        task = self._building.get(flight)
        if task is None or fresh:
            task = asyncio.ensure_future(self._build())
            if not fresh:
                self._building[flight] = task
                task.add_done_callback(lambda _: self._building.pop(flight, None))
        built = await asyncio.shield(task)
        if flight == (tenant_id, self._all_generation, self._generation.get(tenant_id, 0)):
            self._models.put(tenant_id, built)
        return built

    async def _build(self) -> TenantMenu:
        self.builds += 1
        (override_rows, custom_rows), contributed = await asyncio.gather(self.store.load(), self._contributed())
        declared = [*self._platform, *contributed]
        model = build_model(
            declared,
            [custom_entry_of(row) for row in custom_rows.values()],
            {key: override_of(row) for key, row in override_rows.items()},
        )
        return TenantMenu(model, override_rows, custom_rows)

    async def _contributed(self) -> list[Entry]:
        found = await asyncio.gather(*(source.entries() for source in self._sources))
        return [entry for entries in found for entry in entries]

    async def my_menu(self, locale: str, if_none_match: str) -> pb.GetMyMenuResponse:
        principal = current_principal()
        menu = await self.menu_for(principal.permissions, locale)
        if if_none_match and if_none_match == menu.etag:
            return pb.GetMyMenuResponse(etag=menu.etag, not_modified=True, locale=menu.locale)
        return menu

    async def menu_for(self, permissions: frozenset[str], locale: str) -> pb.GetMyMenuResponse:
        """The menu of a permission set, cached. The answer is shared: callers must not change it."""
        tenant_id = current_tenant().tenant_id
        locale = normalise_locale(locale)
        key = (tenant_id, permissions, locale)
        cached = self._menus.get(key)
        if cached is not MISS:
            return cached
        generation = (self._all_generation, self._generation.get(tenant_id, 0))
        menu = await self.tenant_menu()
        items = convert.items(visible(menu.model, permissions), locale)
        answer = pb.GetMyMenuResponse(items=items, etag=menu_etag(items, locale), locale=answer_locale(locale))
        if generation == (self._all_generation, self._generation.get(tenant_id, 0)):
            self._menus.put(key, answer)
        return answer
