"""GetMyMenu on the real platform: the platform's entries (declared on their RPCs) and the enabled
services' contributions, filtered by the caller's permissions, localised, with etags."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from tenantmesh.menus.v1 import menu_pb2
from tenantmesh.menus.v1 import menu_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2 as registry_pb

from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.errors import expect_error
from tests.support.menus import MEMBER_BASICS, contributed_service, find, keys, menu_within, menus_world, unique_service
from tests.support.ports import free_port

ADMINISTRATION = "platform/administration"


async def test_platform_entries_follow_the_permissions_of_their_rpcs(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant = await world.new_tenant()
        admin = await world.person(tenant, "tenant-admin")
        member = await world.person(tenant, "member")

        admin_menu = await world.my_menu(admin.token, tenant)
        section = find(admin_menu.items, ADMINISTRATION)
        assert section is not None
        # In the order their RPCs declare; the platform-scoped tenants screen is a platform operator's only.
        assert [child.key for child in section.children] == [
            "platform/users",
            "platform/invitations",
            "platform/roles",
            "platform/service-accounts",
            "platform/services",
            "platform/form-builder",
            "platform/menus",
            "platform/audit",
        ]
        assert find(admin_menu.items, "platform/users").route == "/admin/users"  # type: ignore[union-attr]
        assert find(admin_menu.items, "platform/platform") is None  # the operators' section stays empty: pruned
        # A member holds none of those permissions: no administration, and no empty section either;
        # the forms section with their own submissions (a member's permission) is theirs.
        assert keys((await world.my_menu(member.token, tenant)).items) == MEMBER_BASICS

        # The platform administrator, in the platform tenant, has the tenants screen too.
        platform_menu = await world.my_menu(await world.admin_token(), PLATFORM_TENANT_ID)
        operator = find(platform_menu.items, "platform/platform")
        assert operator is not None
        assert [child.key for child in operator.children] == [
            "platform/tenants",
            "platform/service-catalogue",
            "platform/signing-keys",
            "platform/platform-audit",
        ]


async def test_enabled_services_contribute_their_entries_by_permission(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        name = unique_service("books")
        await world.register(contributed_service(name))
        tenant = await world.new_tenant()
        other = await world.new_tenant()
        admin = await world.person(tenant, "tenant-admin")
        member = await world.person(tenant, "member")
        assert f"service/{name}/home" not in keys((await world.my_menu(admin.token, tenant)).items)

        await world.enable(tenant, name)
        await menu_within(world, member.token, tenant, lambda found: f"service/{name}/home" in found)
        # Entries without a permission are every member's; the reports need the service's own permission,
        # which neither holds (tenant roles are made of the platform's RPC permissions).
        assert [k for k in keys((await world.my_menu(admin.token, tenant)).items) if k.startswith("service/")] == [
            f"service/{name}/home"
        ]
        assert keys((await world.my_menu(member.token, tenant)).items) == [f"service/{name}/home", *MEMBER_BASICS]
        # Another tenant that did not enable it sees none of it.
        other_admin = await world.person(other, "tenant-admin")
        assert not any(k.startswith("service/") for k in keys((await world.my_menu(other_admin.token, other)).items))
        # Whoever holds every permission sees the reports too, under their parent, in the service's order.
        await world.enable(PLATFORM_TENANT_ID, name)
        await menu_within(world, await world.admin_token(), PLATFORM_TENANT_ID, lambda found: len(found) > 3)
        operator = await world.my_menu(await world.admin_token(), PLATFORM_TENANT_ID)
        assert keys(operator.items)[:2] == [f"service/{name}/home", f"service/{name}/reports"]
        assert [c.key for c in find(operator.items, f"service/{name}/home").children] == [  # type: ignore[union-attr]
            f"service/{name}/reports"
        ]


class SteppedClock:
    """The menus caches' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_lost_event_leaves_a_menu_stale_for_the_time_to_live_at_most(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/decisions.md (Menus, Caching): a 60 s time to live bounds staleness should an event be lost.
    A menu cut late from a cached model (and a model built late from cached contributions) is no
    younger than what it was made of."""
    async with menus_world(db_backend_url, tmp_path) as world:
        name = unique_service("books")
        await world.register(contributed_service(name))
        tenant = await world.new_tenant()
        await world.enable(tenant, name)
        admin = await world.person(tenant, "tenant-admin")
        member = await world.person(tenant, "member")
        home = f"service/{name}/home"
        await menu_within(world, admin.token, tenant, lambda found: home in found)
        book = world.app.book
        clock = SteppedClock()
        book.clock = clock
        book.drop(None)
        await world.my_menu(admin.token, tenant)  # contributions, model and the admin's menu cached at 0 s

        # Every event is lost from now on: only the time to live brings the change.
        drop = book.drop
        monkeypatch.setattr(book, "drop", lambda *args, **kwargs: None)
        await world.enabled(tenant).DisableService(registry_pb.DisableServiceRequest(service=name))
        clock.now += 40
        # The tenant's own change (a menu.* event) drops its model but keeps what the sources
        # contributed at 0 s; the model rebuilt now, and a permission set first asked for now, are
        # made of those.
        drop(tenant, sources=False)
        assert home in keys((await world.my_menu(member.token, tenant)).items)
        clock.now += 21  # 61 s after the sources were read
        for person in (admin, member):
            assert home not in keys((await world.my_menu(person.token, tenant)).items), person.email


async def test_labels_are_localised_and_etags_save_a_resend(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        name = unique_service("books")
        await world.register(contributed_service(name))
        tenant = await world.new_tenant()
        await world.enable(tenant, name)
        admin = await world.person(tenant, "tenant-admin")
        await menu_within(world, admin.token, tenant, lambda found: f"service/{name}/home" in found)

        english = await world.my_menu(admin.token, tenant)
        indonesian = await world.my_menu(admin.token, tenant, "id-ID")
        assert (english.locale, indonesian.locale) == ("en", "id")
        assert find(english.items, ADMINISTRATION).label == "Administration"  # type: ignore[union-attr]
        assert find(indonesian.items, ADMINISTRATION).label == "Administrasi"  # type: ignore[union-attr]
        assert find(indonesian.items, f"service/{name}/home").label == "Beranda"  # type: ignore[union-attr]
        # A language without translations falls back to English.
        assert find((await world.my_menu(admin.token, tenant, "fr")).items, ADMINISTRATION).label == "Administration"  # type: ignore[union-attr]
        assert english.etag != indonesian.etag

        stub = world.menus(admin.token, tenant)
        again = await stub.GetMyMenu(pb.GetMyMenuRequest(if_none_match=english.etag))
        assert again.not_modified
        assert not again.items
        assert again.etag == english.etag
        stale = await stub.GetMyMenu(pb.GetMyMenuRequest(if_none_match="stale"))
        assert not stale.not_modified
        assert list(stale.items) == list(english.items)


async def test_published_forms_appear_under_forms_for_who_may_submit(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant = await world.new_tenant()
        admin = await world.person(tenant, "tenant-admin")
        member = await world.person(tenant, "member")
        assert keys((await world.my_menu(member.token, tenant)).items) == MEMBER_BASICS  # cached now

        await world.publish_form(admin.token, tenant, "leave-request", "Leave request")
        found = await menu_within(world, member.token, tenant, lambda k: "form/leave-request" in k)
        assert found == ["platform/forms", "form/leave-request", "platform/submissions"]
        item = find((await world.my_menu(member.token, tenant, "id")).items, "form/leave-request")
        assert item is not None
        assert (item.kind, item.form_id, item.route) == (
            menu_pb2.ENTRY_KIND_FORM,
            "leave-request",
            "/forms/leave-request",
        )
        assert item.label == "Leave request (id)"

        await world.archive_form(admin.token, tenant, "leave-request")
        await menu_within(world, member.token, tenant, lambda k: k == MEMBER_BASICS)


async def test_a_source_that_is_down_leaves_its_entries_out_until_it_is_back(
    db_backend_url: str, tmp_path: Path
) -> None:
    # The forms service is configured on a port nobody serves: its calls fail UNAVAILABLE.
    down = {"TENANTMESH_FORMS_ADDR": f"127.0.0.1:{free_port()}"}
    async with menus_world(db_backend_url, tmp_path, down, services=("registry", "menus")) as world:
        tenant = await world.new_tenant()
        admin = await world.person(tenant, "tenant-admin")
        found = keys((await world.my_menu(admin.token, tenant)).items)
        assert "platform/users" in found  # the rest of the menu is served
        builds = world.app.book.builds
        await world.my_menu(admin.token, tenant)
        assert world.app.book.builds == builds + 1  # and not cached: the next call asks again


async def test_locales_without_labels_of_their_own_share_one_cached_menu(db_backend_url: str, tmp_path: Path) -> None:
    """The menus cache is keyed by the locale the labels are in, not by the locale asked for: a member
    asking in a thousand made-up locales cannot fill the process's memory or push every other
    tenant's menus out of the cache."""
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant = await world.new_tenant()
        member = await world.person(tenant, "member")
        menus = world.menus(member.token, tenant)
        book = world.app.book
        english = await world.my_menu(member.token, tenant)
        indonesian = await world.my_menu(member.token, tenant, "id")
        before = book.menus_cached
        for index in range(40):
            made_up = f"en-x{index:04d}"
            answer = await menus.GetMyMenu(pb.GetMyMenuRequest(locale=made_up))
            assert (list(answer.items), answer.locale, answer.etag) == (list(english.items), "en", english.etag)
            answer = await menus.GetMyMenu(pb.GetMyMenuRequest(locale=f"id-Q{index:03d}"))
            assert (list(answer.items), answer.locale, answer.etag) == (
                list(indonesian.items),
                "id",
                indonesian.etag,
            )
            answer = await menus.GetMyMenu(pb.GetMyMenuRequest(locale=f"z{'abcdefghij'[index % 10]}"))
            assert list(answer.items) == list(english.items)
        # Unknown languages are answered in English ("en"), as their own variant of the English menu.
        assert book.menus_cached <= before + 1


async def test_bad_locale_is_invalid_argument(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant = await world.new_tenant()
        member = await world.person(tenant, "member")
        await expect_error(
            world.menus(member.token, tenant).GetMyMenu(pb.GetMyMenuRequest(locale="not a locale")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FIELD_INVALID",
        )
