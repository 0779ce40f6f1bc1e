"""What a tenant's administrators do to its menu, on the real platform: overrides, custom entries,
moves, previews and the reverse lookups; every refusal with its code and reason."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.auth.v1 import admin_service_pb2
from tenantmesh.menus.v1 import menu_pb2
from tenantmesh.menus.v1 import menu_service_pb2 as pb

from services.menus import admin
from tests.support.errors import expect_error, violation_fields
from tests.support.menus import MEMBER_BASICS, MenusWorld, find, keys, menu_within, menus_world
from tests.support.platform import bearer

USERS = "platform/users"
ROLES = "platform/roles"
ADMINISTRATION = "platform/administration"
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def custom(entry_id: str, **fields: object) -> menu_pb2.CustomEntry:
    values: dict[str, object] = {"kind": menu_pb2.ENTRY_KIND_ROUTE, "label": entry_id.title(), "route": f"/{entry_id}"}
    values.update(fields)
    return menu_pb2.CustomEntry(entry_id=entry_id, **values)  # type: ignore[arg-type]


async def admin_of(world: MenusWorld) -> tuple[str, str]:
    tenant = await world.new_tenant()
    return tenant, (await world.person(tenant, "tenant-admin")).token


async def test_overrides_rename_reorder_hide_and_only_tighten(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)
        renamed = (
            await menus.SetMenuOverride(
                pb.SetMenuOverrideRequest(
                    override=menu_pb2.MenuOverride(
                        key=USERS, label="People", label_translations={"id": "Orang"}, icon="person", order=99
                    )
                )
            )
        ).override
        assert (renamed.etag, renamed.orphaned) == ("1", False)
        found = await menu_within(world, token, tenant, lambda k: k.index(USERS) > k.index("platform/audit"))
        assert found.index(USERS) == len(found) - 1  # last of its section
        item = find((await world.my_menu(token, tenant, "id")).items, USERS)
        assert (item.label, item.icon) == ("Orang", "person")  # type: ignore[union-attr]

        # A permission the administrator lacks hides it from them: overrides tighten...
        await menus.SetMenuOverride(
            pb.SetMenuOverrideRequest(
                override=menu_pb2.MenuOverride(key=USERS, required_permission="tenants.tenants.list", etag="1")
            )
        )
        await menu_within(world, token, tenant, lambda k: USERS not in k)
        listed = {e.key: e for e in (await menus.ListMenuEntries(pb.ListMenuEntriesRequest())).entries}
        assert list(listed[USERS].required_permissions) == ["auth.users.list", "tenants.tenants.list"]
        assert listed[USERS].label == "Users"  # the whole override was replaced
        # ...and an etag from before the last change is refused.
        await expect_error(
            menus.SetMenuOverride(pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key=USERS, etag="1"))),
            grpc.StatusCode.ABORTED,
            "ETAG_MISMATCH",
        )
        await menus.SetMenuOverride(pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key=ROLES, hidden=True)))
        await menus.ClearMenuOverride(pb.ClearMenuOverrideRequest(key=USERS))
        await menu_within(world, token, tenant, lambda k: USERS in k and ROLES not in k)
        await expect_error(
            menus.ClearMenuOverride(pb.ClearMenuOverrideRequest(key=USERS)),
            grpc.StatusCode.NOT_FOUND,
            "MENU_OVERRIDE_NOT_FOUND",
        )


async def test_an_override_of_a_missing_entry_is_kept_as_orphaned(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)
        kept = (
            await menus.SetMenuOverride(
                pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key="service/gone/home", label="Gone"))
            )
        ).override
        assert kept.orphaned
        listed = await menus.ListMenuEntries(pb.ListMenuEntriesRequest())
        assert [o.key for o in listed.orphaned_overrides] == ["service/gone/home"]
        assert "service/gone/home" not in keys((await world.my_menu(token, tenant)).items)


async def test_custom_entries_links_forms_and_sections(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        member = await world.person(tenant, "member")
        menus = world.menus(token, tenant)
        await menus.CreateCustomEntry(
            pb.CreateCustomEntryRequest(custom_entry=custom("help", kind=menu_pb2.ENTRY_KIND_SECTION, route=""))
        )
        handbook = custom(
            "handbook",
            kind=menu_pb2.ENTRY_KIND_EXTERNAL_LINK,
            route="",
            external_url="https://example.com/hb",
            parent="custom/help",
        )
        await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=handbook))
        staff = custom("staff", parent="custom/help", required_permission="auth.users.list")
        await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=staff))
        # Grouping: an existing entry moves into the new section.
        await menus.MoveMenuEntry(pb.MoveMenuEntryRequest(key=USERS, parent="custom/help", position=0))
        found = await menu_within(world, token, tenant, lambda k: "custom/help" in k and USERS in k)
        assert found[found.index("custom/help") :][:4] == ["custom/help", USERS, "custom/handbook", "custom/staff"]
        help_item = find((await world.my_menu(token, tenant)).items, "custom/help")
        assert help_item.children[1].external_url == "https://example.com/hb"  # type: ignore[union-attr]
        # The member sees the link but neither the staff entry nor users: permissions still apply.
        assert keys((await world.my_menu(member.token, tenant)).items) == [
            "custom/help",
            "custom/handbook",
            *MEMBER_BASICS,
        ]

        # An entry with children cannot be deleted; once they moved out, it can.
        await expect_error(
            menus.DeleteCustomEntry(pb.DeleteCustomEntryRequest(entry_id="help")),
            grpc.StatusCode.FAILED_PRECONDITION,
            "MENU_ENTRY_HAS_CHILDREN",
        )
        updated = (
            await menus.UpdateCustomEntry(
                pb.UpdateCustomEntryRequest(
                    custom_entry=custom("staff", label="Staff", parent="", etag="2"),
                    update_mask=field_mask_pb2.FieldMask(paths=["label", "parent"]),
                )
            )
        ).custom_entry
        # Its etag was 2: the move renumbered the siblings it joined.
        assert (updated.parent, updated.etag, updated.route) == ("", "3", "/staff")


async def test_a_form_entry_takes_every_form_key_the_forms_service_allows(db_backend_url: str, tmp_path: Path) -> None:
    """A form key is up to 127 characters ("<63>.<63>"): the entry leading to it is stored whole,
    not refused by the database as INTERNAL."""
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)
        longest = f"{'a' * 63}.{'b' * 63}"
        entry = custom("longest", kind=menu_pb2.ENTRY_KIND_FORM, route="", form_id=longest)
        created = (await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=entry))).custom_entry
        assert created.form_id == longest
        listed = {e.key: e for e in (await menus.ListMenuEntries(pb.ListMenuEntriesRequest())).entries}
        assert listed["custom/longest"].form_id == longest


# The limits the bound test runs at: the service's (200, 100) take as many calls again to reach.
MAX_CUSTOM_ENTRIES, MAX_ABSENT_OVERRIDES = 12, 8


async def test_custom_entries_and_overrides_of_absent_entries_are_bounded(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a bound an administrator (or a script with their key) grows the menu every member is
    sent, and the rows of overrides naming entries that do not exist, without end. Checked at
    smaller limits than the service's (the same code reads them at each call)."""
    monkeypatch.setattr(admin, "MAX_CUSTOM_ENTRIES", MAX_CUSTOM_ENTRIES)
    monkeypatch.setattr(admin, "MAX_ABSENT_OVERRIDES", MAX_ABSENT_OVERRIDES)
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)
        for index in range(MAX_CUSTOM_ENTRIES - 2):
            await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom(f"e{index}")))
        # Racing creates for the last two places: never more than the limit.
        raced = await asyncio.gather(
            *(menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom(f"r{i}"))) for i in range(6)),
            return_exceptions=True,
        )
        refused = [r for r in raced if isinstance(r, grpc.aio.AioRpcError)]
        assert {r.code() for r in refused} <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}
        await expect_error(
            menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom("one-more"))),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MENU_LIMIT_REACHED",
        )
        listed = (await menus.ListMenuEntries(pb.ListMenuEntriesRequest())).entries
        assert len([e for e in listed if e.key.startswith("custom/")]) == MAX_CUSTOM_ENTRIES

        for index in range(MAX_ABSENT_OVERRIDES):
            await menus.SetMenuOverride(
                pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key=f"service/nowhere/e{index}", label="X"))
            )
        await expect_error(
            menus.SetMenuOverride(
                pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key="form/one-more", label="X"))
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MENU_LIMIT_REACHED",
        )
        # Changing one of them, and overriding an entry that is there, still work.
        await menus.SetMenuOverride(
            pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key="service/nowhere/e0", label="Y", etag="1"))
        )
        await menus.SetMenuOverride(pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key=USERS, label="P")))
        listed_overrides = await menus.ListMenuEntries(pb.ListMenuEntriesRequest())
        assert len(listed_overrides.orphaned_overrides) == MAX_ABSENT_OVERRIDES


async def test_an_update_reads_only_the_fields_its_mask_names(db_backend_url: str, tmp_path: Path) -> None:
    """AIP-134: fields the mask does not name are ignored, so an update of the icon alone need not
    repeat the label; a label the mask names must still be one, and a create needs one."""
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)
        await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom("faq", label="FAQ")))
        updated = (
            await menus.UpdateCustomEntry(
                pb.UpdateCustomEntryRequest(
                    custom_entry=menu_pb2.CustomEntry(entry_id="faq", icon="star"),
                    update_mask=field_mask_pb2.FieldMask(paths=["icon"]),
                )
            )
        ).custom_entry
        assert (updated.label, updated.icon, updated.etag) == ("FAQ", "star", "2")
        emptied = pb.UpdateCustomEntryRequest(
            custom_entry=menu_pb2.CustomEntry(entry_id="faq"), update_mask=field_mask_pb2.FieldMask(paths=["label"])
        )
        error = await expect_error(menus.UpdateCustomEntry(emptied), INVALID, "FIELD_INVALID")
        assert violation_fields(error) == {"custom_entry.label"}
        unlabelled = pb.CreateCustomEntryRequest(custom_entry=custom("nameless", label=""))
        error = await expect_error(menus.CreateCustomEntry(unlabelled), INVALID, "FIELD_INVALID")
        assert violation_fields(error) == {"custom_entry.label"}
        listed = {e.key: e for e in (await menus.ListMenuEntries(pb.ListMenuEntriesRequest())).entries}
        assert (listed["custom/faq"].label, "custom/nameless" in listed) == ("FAQ", False)


async def test_a_move_overlapping_a_change_of_the_entries_it_renumbers_is_aborted(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/decisions.md (Menus, MoveMenuEntry): a concurrent change to any entry a move renumbers
    aborts the whole move, rather than the move writing back where that entry was when it read it."""
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)
        await menus.CreateCustomEntry(
            pb.CreateCustomEntryRequest(custom_entry=custom("box", kind=menu_pb2.ENTRY_KIND_SECTION, route=""))
        )
        for entry_id in ("a", "b", "c"):
            await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom(entry_id, order=1)))
        store = world.app.book.store
        write = store.move

        async def overlapped(*args: Any) -> None:
            # Another administrator puts b into the box after this move read the menu.
            await menus.UpdateCustomEntry(
                pb.UpdateCustomEntryRequest(
                    custom_entry=custom("b", parent="custom/box"),
                    update_mask=field_mask_pb2.FieldMask(paths=["parent"]),
                )
            )
            await write(*args)

        monkeypatch.setattr(store, "move", overlapped)
        await expect_error(
            menus.MoveMenuEntry(pb.MoveMenuEntryRequest(key="custom/c", position=0)),
            grpc.StatusCode.ABORTED,
            "ETAG_MISMATCH",
        )
        monkeypatch.setattr(store, "move", write)
        listed = {e.key: e for e in (await menus.ListMenuEntries(pb.ListMenuEntriesRequest())).entries}
        # b stays where the other administrator put it, and nothing of the move was written.
        assert listed["custom/b"].parent == "custom/box"
        assert (listed["custom/c"].order, listed["custom/a"].order) == (1, 1)
        assert not listed[ADMINISTRATION].HasField("override")
        # Asked again, the move renumbers what is there now.
        await menus.MoveMenuEntry(pb.MoveMenuEntryRequest(key="custom/c", position=0))
        found = await menu_within(world, token, tenant, lambda k: k[0] == "custom/c")
        assert found.index("custom/b") > found.index("custom/box")


async def test_a_create_retried_with_its_request_id_answers_as_the_first(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)
        request = pb.CreateCustomEntryRequest(custom_entry=custom("faq"), request_id=str(uuid.uuid4()))
        first = await menus.CreateCustomEntry(request)
        # A retry (the answer was lost) is answered as the first call was, and creates nothing.
        again = await menus.CreateCustomEntry(request)
        assert again == first
        listed = [e.key for e in (await menus.ListMenuEntries(pb.ListMenuEntriesRequest())).entries]
        assert listed.count("custom/faq") == 1
        # The same entry id in another request (none, or a new request id) is a duplicate.
        for request_id in ("", str(uuid.uuid4())):
            duplicate = pb.CreateCustomEntryRequest(custom_entry=custom("faq"), request_id=request_id)
            error = await expect_error(menus.CreateCustomEntry(duplicate), INVALID, "MENU_ENTRY_DUPLICATE")
            assert violation_fields(error) == {"custom_entry.entry_id"}


async def test_bad_menus_are_refused_with_the_path_of_each_problem(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        menus = world.menus(token, tenant)

        async def refused(entry: menu_pb2.CustomEntry, reason: str, field: str) -> None:
            request = pb.CreateCustomEntryRequest(custom_entry=entry)
            error = await expect_error(menus.CreateCustomEntry(request), INVALID, reason)
            assert field in violation_fields(error), violation_fields(error)

        await refused(custom("a", parent="custom/nowhere"), "MENU_PARENT_NOT_FOUND", "custom_entry.parent")
        await refused(
            custom("a", kind=menu_pb2.ENTRY_KIND_EXTERNAL_LINK, route="", external_url="http://x.test"),
            "FIELD_INVALID",
            "custom_entry.external_url",
        )
        await refused(custom("a", route="not/a/path"), "FIELD_INVALID", "custom_entry.route")
        # What a browser reads as another origin although it starts with a slash.
        for elsewhere in ("//evil.example", "/\\evil.example/x", "/\t/evil.example", "/a\u0000b"):
            await refused(custom("a", route=elsewhere), "FIELD_INVALID", "custom_entry.route")
        await refused(custom("a", route=""), "FIELD_INVALID", "custom_entry.route")
        await refused(
            custom("a", kind=menu_pb2.ENTRY_KIND_FORM, form_id="f1"), "MENU_TARGET_INVALID", "custom_entry.route"
        )
        parent = ""
        for level in range(1, 5):
            await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom(f"l{level}", parent=parent)))
            parent = f"custom/l{level}"
        await refused(custom("l5", parent="custom/l4"), "MENU_TOO_DEEP", "custom_entry.parent")
        await refused(custom("l1"), "MENU_ENTRY_DUPLICATE", "custom_entry.entry_id")
        await expect_error(
            menus.MoveMenuEntry(pb.MoveMenuEntryRequest(key="custom/l1", parent="custom/l3")), INVALID, "MENU_CYCLE"
        )
        # Moving the root of a four-level chain under something is too deep as well.
        await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom("top")))
        await expect_error(
            menus.MoveMenuEntry(pb.MoveMenuEntryRequest(key="custom/l1", parent="custom/top")), INVALID, "MENU_TOO_DEEP"
        )
        await expect_error(
            menus.SetMenuOverride(
                pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key=USERS, parent="custom/l4"))
            ),
            INVALID,
            "MENU_TOO_DEEP",
        )
        await expect_error(
            menus.MoveMenuEntry(pb.MoveMenuEntryRequest(key="custom/none")),
            grpc.StatusCode.NOT_FOUND,
            "MENU_ENTRY_NOT_FOUND",
        )


async def test_previews_and_reverse_lookups_agree_with_the_menu(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant, token = await admin_of(world)
        member = await world.person(tenant, "member")
        menus = world.menus(token, tenant)
        await menus.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom("news")))
        admin_menu = await menu_within(world, token, tenant, lambda k: "custom/news" in k)

        as_member = await menus.PreviewMenu(pb.PreviewMenuRequest(user_id=member.user_id))
        member_menu = keys((await world.my_menu(member.token, tenant)).items)
        assert keys(as_member.items) == member_menu == ["custom/news", *MEMBER_BASICS]
        as_admins = await menus.PreviewMenu(pb.PreviewMenuRequest(roles=pb.RoleSet(roles=["tenant-admin"])))
        assert keys(as_admins.items) == admin_menu

        who = await menus.WhoCanSee(pb.WhoCanSeeRequest(key=USERS))
        assert "tenant-admin" in who.roles
        assert "member" not in who.roles
        assert member.user_id not in [u.user_id for u in who.users]
        everyone = await menus.WhoCanSee(pb.WhoCanSeeRequest(key="custom/news"))
        assert member.user_id in [u.user_id for u in everyone.users]

        reach = await menus.WhatCanReach(pb.WhatCanReachRequest(user_id=member.user_id))
        # An id in capitals names the same member, on every database.
        in_capitals = await menus.WhatCanReach(pb.WhatCanReachRequest(user_id=member.user_id.upper()))
        assert in_capitals == reach
        assert await menus.PreviewMenu(pb.PreviewMenuRequest(user_id=member.user_id.upper())) == as_member
        assert [(e.key, list(e.required_permissions)) for e in reach.entries] == [
            ("custom/news", []),
            ("platform/forms", []),
            ("platform/submissions", ["forms.submissions.list"]),
        ]
        reach_admin = {
            e.key: list(e.required_permissions)
            for e in (
                await menus.WhatCanReach(
                    pb.WhatCanReachRequest(user_id=(await world.person(tenant, "tenant-admin")).user_id)
                )
            ).entries
        }
        assert reach_admin[USERS] == ["auth.users.list"]

        # Someone of another tenant is answered as no one; unknown roles and entries are named.
        stranger = await world.person(await world.new_tenant(), "member")
        for user_id in (stranger.user_id, "0190c2a4-0000-7000-8000-00000000abcd"):
            await expect_error(
                menus.WhatCanReach(pb.WhatCanReachRequest(user_id=user_id)), grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND"
            )
            await expect_error(
                menus.PreviewMenu(pb.PreviewMenuRequest(user_id=user_id)), grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND"
            )
        await expect_error(
            menus.PreviewMenu(pb.PreviewMenuRequest(roles=pb.RoleSet(roles=["no-such-role"]))),
            INVALID,
            "ROLE_NOT_FOUND",
        )
        await expect_error(
            menus.WhoCanSee(pb.WhoCanSeeRequest(key="custom/none")), grpc.StatusCode.NOT_FOUND, "MENU_ENTRY_NOT_FOUND"
        )


async def test_a_person_of_two_tenants_is_answered_with_the_asking_tenants_roles_only(
    db_backend_url: str, tmp_path: Path
) -> None:
    """WhoCanSee and WhatCanReach name people: asked by B's administrator about someone who is an
    administrator in A and a member in B, they answer with B's roles and B's entries only; someone of
    A only, and A's entries, are answered exactly as no one and nothing."""
    async with menus_world(db_backend_url, tmp_path) as world:
        tenant_a, token_a = await admin_of(world)
        tenant_b, token_b = await admin_of(world)
        shared = await world.person(tenant_a, "tenant-admin")
        await world.mesh.admin_stub("MembershipService").AddMembership(
            admin_service_pb2.AddMembershipRequest(user_id=shared.user_id, roles=["member"]),
            metadata=(*bearer(await world.admin_token()), ("x-tenant-id", tenant_b)),
        )
        a_only = await world.person(tenant_a, "member")
        menus_a, menus_b = world.menus(token_a, tenant_a), world.menus(token_b, tenant_b)
        await menus_a.CreateCustomEntry(pb.CreateCustomEntryRequest(custom_entry=custom("a-only")))
        await menu_within(world, token_a, tenant_a, lambda k: "custom/a-only" in k)

        # In A they are an administrator: the same questions asked there say so (the test can tell).
        in_a = await menus_a.WhatCanReach(pb.WhatCanReachRequest(user_id=shared.user_id))
        assert USERS in [e.key for e in in_a.entries]
        seen_in_a = await menus_a.WhoCanSee(pb.WhoCanSeeRequest(key="platform/forms"))
        assert [list(u.roles) for u in seen_in_a.users if u.user_id == shared.user_id] == [["tenant-admin"]]

        # In B they are a member, and nothing of A shows.
        in_b = await menus_b.WhatCanReach(pb.WhatCanReachRequest(user_id=shared.user_id))
        assert [e.key for e in in_b.entries] == MEMBER_BASICS
        previewed = await menus_b.PreviewMenu(pb.PreviewMenuRequest(user_id=shared.user_id))
        assert keys(previewed.items) == MEMBER_BASICS
        seen_in_b = await menus_b.WhoCanSee(pb.WhoCanSeeRequest(key="platform/forms"))
        assert [(u.email, list(u.roles)) for u in seen_in_b.users if u.user_id == shared.user_id] == [
            (shared.email, ["member"])
        ]
        admins_in_b = await menus_b.WhoCanSee(pb.WhoCanSeeRequest(key=USERS))
        assert shared.user_id not in [u.user_id for u in admins_in_b.users]
        for answer in (in_b, previewed, seen_in_b, admins_in_b):
            body = answer.SerializeToString()
            assert a_only.user_id.encode() not in body
            assert a_only.email.encode() not in body
            assert b"a-only" not in body

        # Someone of A only is answered as no one (code, reason and message); an entry of A only as none.
        nobody = "0190c2a4-0000-7000-8000-00000000abcd"
        for ask, request in (
            (menus_b.WhatCanReach, pb.WhatCanReachRequest),
            (menus_b.PreviewMenu, pb.PreviewMenuRequest),
        ):
            of_a = await expect_error(ask(request(user_id=a_only.user_id)), grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
            of_none = await expect_error(ask(request(user_id=nobody)), grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
            assert of_a.details() == of_none.details()
        await expect_error(
            menus_b.WhoCanSee(pb.WhoCanSeeRequest(key="custom/a-only")),
            grpc.StatusCode.NOT_FOUND,
            "MENU_ENTRY_NOT_FOUND",
        )
