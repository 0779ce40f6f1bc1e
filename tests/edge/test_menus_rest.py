"""The menus service over REST through a real Envoy, with real tokens: the caller's menu as JSON,
bad input with its HTTP status, reason and field paths, and the isolation matrix over every
menus route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from services.mesh.runner import upstreams_for
from tests.edge.conftest import EdgeFactory
from tests.edge.test_tenants_rest import reason_of, violation_fields
from tests.support.isolation import RestCaller, build_world, rest_rpcs, run_matrix, served_rpcs
from tests.support.menus import menus_world

pytestmark = pytest.mark.edge


async def test_menus_over_rest(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> None:
    async with menus_world(db_backend_url, tmp_path) as world:
        mesh = world.mesh
        edge = await edge_factory(upstreams_for(mesh.started, mesh.runtime.settings))
        tenant = await world.new_tenant()
        admin = await world.person(tenant, "tenant-admin")
        headers = {"authorization": f"Bearer {admin.token}", "x-tenant-id": tenant}
        async with edge.https_client(headers=headers) as client:
            menu = await client.get("/v1/my-menu", params={"locale": "id"})
            assert menu.status_code == 200, menu.text
            body = menu.json()
            assert body["locale"] == "id"
            administration = next(i for i in body["items"] if i["key"] == "platform/administration")
            assert administration["label"] == "Administrasi"
            assert administration["kind"] == "ENTRY_KIND_SECTION"
            again = await client.get("/v1/my-menu", params={"locale": "id", "ifNoneMatch": body["etag"]})
            assert again.json()["notModified"] is True

            bad_link = await client.post(
                "/v1/custom-menu-entries",
                json={"entryId": "x", "kind": "ENTRY_KIND_EXTERNAL_LINK", "label": "X", "externalUrl": "http://x.test"},
            )
            assert (bad_link.status_code, reason_of(bad_link)) == (400, "FIELD_INVALID")
            assert violation_fields(bad_link) == {"customEntry.externalUrl"}
            orphan = await client.post(
                "/v1/custom-menu-entries",
                json={"entryId": "x", "kind": "ENTRY_KIND_ROUTE", "label": "X", "route": "/x", "parent": "custom/no"},
            )
            assert (orphan.status_code, reason_of(orphan)) == (400, "MENU_PARENT_NOT_FOUND")
            assert violation_fields(orphan) == {"customEntry.parent"}
            missing = await client.get("/v1/menu-entries:whoCanSee", params={"key": "custom/none"})
            assert (missing.status_code, reason_of(missing)) == (404, "MENU_ENTRY_NOT_FOUND")
            stale = await client.post(
                "/v1/menu-overrides:set", json={"override": {"key": "platform/users", "etag": "7"}}
            )
            assert (stale.status_code, reason_of(stale)) == (409, "ETAG_MISMATCH")


async def test_my_menu_over_rest_is_the_json_the_edge_printed_of_the_typed_answer(
    db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory
) -> None:
    """GET /v1/my-menu is rendered by the menus service (GetMyMenuJson); REST clients must get the
    very document the transcoder printed of GetMyMenuResponse before: the same names, fields and
    values, every empty field printed, enums by name."""
    async with menus_world(db_backend_url, tmp_path) as world:
        mesh = world.mesh
        edge = await edge_factory(upstreams_for(mesh.started, mesh.runtime.settings))
        tenant = await world.new_tenant()
        admin = await world.person(tenant, "tenant-admin")
        typed = await world.my_menu(admin.token, tenant, "id")
        # The edge's print options (envoy/envoy.yaml.j2): lowerCamelCase, primitives always printed.
        printed = json_format.MessageToDict(typed, always_print_fields_with_no_presence=True)
        headers = {"authorization": f"Bearer {admin.token}", "x-tenant-id": tenant}
        async with edge.https_client(headers=headers) as client:
            rendered = await client.get("/v1/my-menu", params={"locale": "id"})
            transcoded = await client.get("/v1/my-menu:typed", params={"locale": "id"})
            assert (rendered.status_code, transcoded.status_code) == (200, 200), rendered.text + transcoded.text
            assert rendered.headers["content-type"] == transcoded.headers["content-type"] == "application/json"
            assert rendered.json() == transcoded.json() == printed
            # Every field of every item is printed, empty ones too (an entry without a link or children).
            every_field = {"key", "kind", "label", "icon", "route", "externalUrl", "formId", "children"}
            assert all(set(item) == every_field for item in _walk(rendered.json()["items"]))
            assert any(item["externalUrl"] == "" and item["children"] == [] for item in _walk(printed["items"]))

            current = {"locale": "id", "ifNoneMatch": typed.etag}
            unchanged = await client.get("/v1/my-menu", params=current)
            assert unchanged.json() == (await client.get("/v1/my-menu:typed", params=current)).json()
            assert unchanged.json() == {"items": [], "etag": typed.etag, "notModified": True, "locale": "id"}

            bad = await client.get("/v1/my-menu", params={"locale": "not a locale"})
            assert (bad.status_code, reason_of(bad)) == (400, "FIELD_INVALID")
            assert violation_fields(bad) == {"locale"}


def _walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _walk(item["children"])


async def test_menus_isolation_matrix_rest(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> None:
    async with menus_world(db_backend_url, tmp_path) as menus:
        mesh = menus.mesh
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            per_tenant_rate_limit_rps=100_000,
            global_rate_limit_rps=100_000,
        )
        world = await build_world(mesh)
        try:
            rpcs = rest_rpcs(rpc for rpc in served_rpcs(mesh.started) if rpc.server == "menus")
            assert len(rpcs) >= 11
            async with edge.http_client() as client:
                result = await run_matrix(world, rpcs, RestCaller(client))
        finally:
            await world.cleanup()
        print(result.summary("REST through Envoy"))
        assert not result.leaks, result.summary("REST") + "\n" + "\n".join(result.leaks)
