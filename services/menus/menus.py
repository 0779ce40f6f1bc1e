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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

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
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class TenantMenu:
    model: MenuModel
    override_rows: dict[str, MenuOverrideRow]
    custom_rows: dict[str, CustomEntryRow]
    # When the oldest part it was made of (the sources' entries may be cached) has lived its time to
    # live: neither it nor a menu cut from it is cached beyond that.
    expires: float
    # Every source answered; a menu made without one is answered but never cached.
    complete: bool = True


@dataclass(frozen=True)
class Contributed:
    """What the sources contributed to a tenant's menus, and when that was read (plus the time to live)."""

    entries: list[Entry]
    expires: float


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
        # The caches' clock (tests move it forward).
        self.clock: Callable[[], float] = time.monotonic
        self._models: Cache[str, TenantMenu] = Cache(
            "menus.models", ttl_seconds=_TTL_SECONDS, max_entries=2_000, clock=self._now
        )
        self._menus: Cache[tuple[str, frozenset[str], str], RenderedAnswer[pb.GetMyMenuResponse]] = Cache(
            "menus.trees", ttl_seconds=_TTL_SECONDS, max_entries=20_000, clock=self._now
        )
        # What the registry and forms contribute, per tenant: an override changes the model, not these.
        self._contributions: Cache[str, Contributed] = Cache(
            "menus.contributions", ttl_seconds=_TTL_SECONDS, max_entries=2_000, clock=self._now
        )
        # Bumped by every drop: a model built across a drop is answered but not cached.
        self._generation: dict[str, int] = {}
        self._source_generation: dict[str, int] = {}
        self._all_generation = 0
        self._building: dict[tuple[str, int, int], asyncio.Task[TenantMenu]] = {}
        self.builds = 0

    @property
    def menus_cached(self) -> int:
        """How many computed menus this process keeps."""
        return len(self._menus)

    def _now(self) -> float:
        return self.clock()

    def _put_until(self, cache: Cache[K, V], key: K, value: V, expires: float) -> None:
        """Caches ``value`` until ``expires``: what is made of cached parts is no fresher than they are,
        so a lost event leaves nothing stale for longer than the time to live."""
        left = expires - self._now()
        if left > 0:
            cache.put(key, value, ttl_seconds=left)

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
            self._put_until(self._models, tenant_id, built, built.expires)
        return built

    async def _build(self, *, fresh: bool) -> TenantMenu:
        self.builds += 1
        read = self._now()
        (override_rows, custom_rows), (contributed, complete) = await asyncio.gather(
            self.store.load(), self._contributed_to(current_tenant().tenant_id, fresh=fresh)
        )
        declared = [*self._platform, *contributed.entries]
        model = build_model(
            declared,
            [custom_entry_of(row) for row in custom_rows.values()],
            {key: override_of(row) for key, row in override_rows.items()},
        )
        expires = min(read + _TTL_SECONDS, contributed.expires)
        return TenantMenu(model, override_rows, custom_rows, expires, complete)

    async def _contributed_to(self, tenant_id: str, *, fresh: bool) -> tuple[Contributed, bool]:
        if not fresh:
            cached = self._contributions.get(tenant_id)
            if cached is not MISS:
                return cached, True
        generation = (self._all_generation, self._source_generation.get(tenant_id, 0))
        read = self._now()
        entries, complete = await self._contributed()
        contributed = Contributed(entries, read + _TTL_SECONDS)
        if complete and generation == (self._all_generation, self._source_generation.get(tenant_id, 0)):
            self._put_until(self._contributions, tenant_id, contributed, contributed.expires)
        return contributed, complete

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
        generation = (self._all_generation, self._generation.get(tenant_id, 0))
        # The model is cached at least as long as the menus cut from it: a cached menu costs a lookup more.
        menu = await self.tenant_menu()
        locale = normalise_locale(locale)
        labels, answered = menu.model.label_locale(locale), answer_locale(locale)
        # Keyed by what decides the answer, never by the locale as asked: a caller making up locales
        # gets the few menus there are, not one cached per made-up tag.
        key = (tenant_id, permissions, f"{labels}|{answered}")
        cached = self._menus.get(key)
        if cached is not MISS:
            return cached
        items = convert.items(visible(menu.model, permissions), labels)
        answer = pb.GetMyMenuResponse(items=items, etag=menu_etag(items, key[2]), locale=answered)
        if menu.complete and generation == (self._all_generation, self._generation.get(tenant_id, 0)):
            # Every caller with this permission set gets this object: serialized (and, for REST
            # callers, rendered as JSON) once, not per call.
            rendered = RenderedAnswer(answer, shared=True)
            self._put_until(self._menus, key, rendered, menu.expires)
            return rendered
        return RenderedAnswer(answer, shared=False)
