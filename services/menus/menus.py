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
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
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
from services.runtime.rest_answers import RenderedAnswer

# Event type prefixes that change a tenant's menus: whether they concern every tenant, and whether
# they change what the sources (registry, forms) contribute, which is cached apart from the rest.
INVALIDATING_EVENTS = (
    ("tenant_service.", False, True),  # a service enabled, disabled or reconfigured for the tenant
    ("service.", True, True),  # the catalogue: a service registered, updated (its menu entries), deleted
    # A form published, archived, taken back in use or deleted (its submissions, form.submission.*,
    # change no menu).
    ("form.published", False, True),
    ("form.archived", False, True),
    ("form.unarchived", False, True),
    ("form.deleted", False, True),
    ("menu.", False, False),  # the tenant's overrides and custom entries
    ("tenant.", False, True),  # suspended, resumed, deleted
    ("auth.revoked", False, False),  # roles and memberships (the reverse lookups ask auth every time)
)
SUPPORTED_LOCALES = ("en", "id")
log = logging.getLogger("tenantmesh.menus")
_TTL_SECONDS = 60.0


@dataclass(frozen=True)
class TenantMenu:
    model: MenuModel
    override_rows: dict[str, MenuOverrideRow]
    custom_rows: dict[str, CustomEntryRow]
    # Every source answered; a menu made without one is answered but never cached.
    complete: bool = True


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
        self._menus: Cache[tuple[str, frozenset[str], str], RenderedAnswer[pb.GetMyMenuResponse]] = Cache(
            "menus.trees", ttl_seconds=_TTL_SECONDS, max_entries=20_000
        )
        # What the registry and forms contribute, per tenant: an override changes the model, not these.
        self._contributions: Cache[str, list[Entry]] = Cache(
            "menus.contributions", ttl_seconds=_TTL_SECONDS, max_entries=2_000
        )
        # Bumped by every drop: a model built across a drop is answered but not cached.
        self._generation: dict[str, int] = {}
        self._source_generation: dict[str, int] = {}
        self._all_generation = 0
        self._building: dict[tuple[str, int, int], asyncio.Task[TenantMenu]] = {}
        self.builds = 0

    def subscribe(self, events: EventBus) -> None:
        for prefix, everyone, sources in INVALIDATING_EVENTS:
            events.subscribe(prefix, self._dropper(everyone=everyone, sources=sources))

    def _dropper(self, *, everyone: bool, sources: bool) -> Callable[[Event], Awaitable[None]]:
        async def drop(event: Event) -> None:
            if everyone:
                self.drop(None)
            elif event.tenant_id:
                self.drop(event.tenant_id, sources=sources)

        return drop

    def drop(self, tenant_id: str | None, *, sources: bool = True) -> None:
        """Forgets the menus of ``tenant_id`` (None: of every tenant), with what the sources contributed
        to them unless ``sources`` is False."""
        if tenant_id is None:
            self._all_generation += 1
            self._models.clear()
            self._menus.clear()
            self._contributions.clear()
            return
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
        self._models.pop(tenant_id)
        self._menus.drop_where(lambda key, _: key[0] == tenant_id)
        if sources:
            self._source_generation[tenant_id] = self._source_generation.get(tenant_id, 0) + 1
            self._contributions.pop(tenant_id)

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
            task = asyncio.ensure_future(self._build(fresh=fresh))
            if not fresh:
                self._building[flight] = task
                task.add_done_callback(lambda _: self._building.pop(flight, None))
        built = await asyncio.shield(task)
        if built.complete and flight == (tenant_id, self._all_generation, self._generation.get(tenant_id, 0)):
            self._models.put(tenant_id, built)
        return built

    async def _build(self, *, fresh: bool) -> TenantMenu:
        self.builds += 1
        (override_rows, custom_rows), (contributed, complete) = await asyncio.gather(
            self.store.load(), self._contributed_to(current_tenant().tenant_id, fresh=fresh)
        )
        declared = [*self._platform, *contributed]
        model = build_model(
            declared,
            [custom_entry_of(row) for row in custom_rows.values()],
            {key: override_of(row) for key, row in override_rows.items()},
        )
        return TenantMenu(model, override_rows, custom_rows, complete)

    async def _contributed_to(self, tenant_id: str, *, fresh: bool) -> tuple[list[Entry], bool]:
        if not fresh:
            cached = self._contributions.get(tenant_id)
            if cached is not MISS:
                return cached, True
        generation = (self._all_generation, self._source_generation.get(tenant_id, 0))
        entries, complete = await self._contributed()
        if complete and generation == (self._all_generation, self._source_generation.get(tenant_id, 0)):
            self._contributions.put(tenant_id, entries)
        return entries, complete

    async def _contributed(self) -> tuple[list[Entry], bool]:
        """Every source's entries, and whether every source answered. A source that cannot be reached
        (an outage, not a bug) leaves its entries out rather than failing the whole menu."""
        found = await asyncio.gather(*(self._entries_of(source) for source in self._sources))
        return [entry for entries in found if entries is not None for entry in entries], None not in found

    async def _entries_of(self, source: EntrySource) -> list[Entry] | None:
        try:
            return await source.entries()
        except grpc.aio.AioRpcError as error:
            if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            log.warning("menu entries of %s left out: %s unreachable (%s)", source.name, source.name, error.code().name)
            return None

    async def my_menu(self, locale: str, if_none_match: str) -> RenderedAnswer[pb.GetMyMenuResponse]:
        """The caller's menu, typed (GetMyMenu) and as JSON (GetMyMenuJson)."""
        principal = current_principal()
        menu = await self._menu(principal.permissions, locale)
        if if_none_match and if_none_match == menu.answer.etag:
            answer = pb.GetMyMenuResponse(etag=menu.answer.etag, not_modified=True, locale=menu.answer.locale)
            return RenderedAnswer(answer, shared=False)
        return menu

    async def menu_for(self, permissions: frozenset[str], locale: str) -> pb.GetMyMenuResponse:
        """The menu of a permission set, cached. The answer is shared: callers must not change it."""
        return (await self._menu(permissions, locale)).answer

    async def _menu(self, permissions: frozenset[str], locale: str) -> RenderedAnswer[pb.GetMyMenuResponse]:
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
        if menu.complete and generation == (self._all_generation, self._generation.get(tenant_id, 0)):
            # Every caller with this permission set gets this object: serialized (and, for REST
            # callers, rendered as JSON) once, not per call.
            rendered = RenderedAnswer(answer, shared=True)
            self._menus.put(key, rendered)
            return rendered
        return RenderedAnswer(answer, shared=False)
