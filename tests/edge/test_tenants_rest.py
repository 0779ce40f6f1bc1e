"""The tenants API over REST through a real Envoy, with real tokens: bad input
gets the right HTTP status and a JSON google.rpc.Status, and leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.mesh.runner import upstreams_for
from services.runtime.db import TenantDatabase, tenant_database_name
from tests.edge.conftest import EdgeFactory, RunningEdge
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform, platform


@dataclass
class RestWorld:
    mesh: Platform
    edge: RunningEdge
    client: httpx.AsyncClient

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, **kwargs)


def reason_of(response: httpx.Response) -> str:
    body = response.json()
    for detail in body.get("details", []):
        if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
            return str(detail["reason"])
    return ""


def violation_fields(response: httpx.Response) -> set[str]:
    fields: set[str] = set()
    for detail in response.json().get("details", []):
        if detail.get("@type", "").endswith("google.rpc.BadRequest"):
            fields |= {v["field"] for v in detail.get("fieldViolations", [])}
    return fields


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> AsyncIterator[RestWorld]:
    async with platform(db_backend_url, tmp_path) as mesh:
        edge = await edge_factory(upstreams_for(mesh.started, mesh.runtime.settings))
        async with edge.https_client() as anonymous:
            login = await anonymous.post(
                "/v1/auth:login", json={"tenant": "platform", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            token = login.json()["tokens"]["accessToken"]
        async with edge.https_client(headers={"authorization": f"Bearer {token}"}) as client:
            yield RestWorld(mesh=mesh, edge=edge, client=client)


def slug() -> str:
    return f"rest-{uuid.uuid4().hex[:10]}"


async def create(world: RestWorld, name: str) -> dict[str, Any]:
    response = await world.call("POST", "/v1/tenants", json={"slug": name, "labels": {"suite": "rest"}})
    assert response.status_code == 200, response.text
    tenant: dict[str, Any] = response.json()["tenant"]
    return tenant


async def database_exists(world: RestWorld, name: str) -> bool:
    return await world.mesh.runtime.db.tenant_database_exists(
        TenantDatabase("default", tenant_database_name(name, world.mesh.runtime.db.tenant_db_prefix))
    )


@pytest.mark.parametrize(
    "bad_slug", ["UPPER", "x" * 41, "a';drop database x;--", "admin", "mysql", "ab", "-lead", "trail-"]
)
async def test_invalid_slug_is_400_with_a_field_violation_and_no_database(world: RestWorld, bad_slug: str) -> None:
    response = await world.call("POST", "/v1/tenants", json={"slug": bad_slug})
    assert response.status_code == 400
    assert reason_of(response) == "FIELD_INVALID"
    assert violation_fields(response) == {"tenant.slug"}
    listed = await world.call("GET", "/v1/tenants", params={"states": "TENANT_STATE_FAILED"})
    assert listed.json().get("tenants", []) == []


async def test_lifecycle_errors_map_to_http_statuses(world: RestWorld) -> None:
    name = slug()
    tenant = await create(world, name)
    tenant_id = tenant["tenantId"]

    duplicate = await world.call("POST", "/v1/tenants", json={"slug": name})
    assert (duplicate.status_code, reason_of(duplicate)) == (409, "TENANT_SLUG_TAKEN")

    unknown = await world.call("GET", f"/v1/tenants/{uuid.uuid4()}")
    assert (unknown.status_code, reason_of(unknown)) == (404, "TENANT_NOT_FOUND")

    stale = await world.call(
        "PATCH",
        f"/v1/tenants/{tenant_id}",
        params={"updateMask": "displayName"},
        json={"displayName": "New", "etag": "999"},
    )
    assert (stale.status_code, reason_of(stale)) == (409, "ETAG_MISMATCH")
    unchanged = await world.call("GET", f"/v1/tenants/{tenant_id}")
    assert unchanged.json()["tenant"]["displayName"] == name

    resume_active = await world.call("POST", f"/v1/tenants/{tenant_id}:resume", json={})
    assert (resume_active.status_code, reason_of(resume_active)) == (400, "TENANT_STATE_CONFLICT")

    deleted = await world.call("DELETE", f"/v1/tenants/{tenant_id}")
    assert deleted.status_code == 200
    assert deleted.json()["tenant"]["state"] == "TENANT_STATE_DELETED"
    assert not await database_exists(world, name)
    for method, path, body in (
        ("GET", f"/v1/tenants/{tenant_id}", None),
        ("POST", f"/v1/tenants/{tenant_id}:suspend", {}),
        ("POST", f"/v1/tenants/{tenant_id}:resume", {}),
        ("DELETE", f"/v1/tenants/{tenant_id}", None),
    ):
        gone = await world.call(method, path, json=body)
        assert (gone.status_code, reason_of(gone)) == (404, "TENANT_NOT_FOUND"), (method, path)


async def test_paging_errors_are_400(world: RestWorld) -> None:
    negative = await world.call("GET", "/v1/tenants", params={"pageSize": "-1"})
    assert (negative.status_code, reason_of(negative)) == (400, "FIELD_INVALID")
    # Named as the REST caller wrote it (JSON name), not the proto name.
    assert violation_fields(negative) == {"pageSize"}
    forged = await world.call("GET", "/v1/tenants", params={"pageToken": "bm90LWEtdG9rZW4"})
    assert (forged.status_code, reason_of(forged)) == (400, "PAGE_TOKEN_INVALID")


async def test_update_mask_errors_use_the_rest_field_names(world: RestWorld) -> None:
    tenant = await create(world, slug())
    response = await world.call(
        "PATCH",
        f"/v1/tenants/{tenant['tenantId']}",
        params={"updateMask": "slug"},
        json={"slug": "other", "etag": tenant["etag"]},
    )
    assert (response.status_code, reason_of(response)) == (400, "FIELD_INVALID")
    [violation] = [
        v
        for detail in response.json()["details"]
        if detail["@type"].endswith("google.rpc.BadRequest")
        for v in detail["fieldViolations"]
    ]
    assert violation["field"] == "updateMask"
    assert "displayName" in violation["description"]
    assert "display_name" not in violation["description"]


async def test_malformed_requests_get_json_errors(world: RestWorld) -> None:
    bad_json = await world.call(
        "POST", "/v1/tenants", content=b'{"slug": ', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.headers["content-type"].startswith("application/json")
    assert reason_of(bad_json) == "MALFORMED_REQUEST"

    unknown_query = await world.call("GET", "/v1/tenants", params={"colour": "blue"})
    assert (unknown_query.status_code, reason_of(unknown_query)) == (400, "MALFORMED_REQUEST")

    name = slug()
    too_big = await world.call("POST", "/v1/tenants", json={"slug": name, "displayName": "x" * (2 * 1024 * 1024)})
    assert (too_big.status_code, reason_of(too_big)) == (413, "REQUEST_TOO_LARGE")
    assert not await database_exists(world, name)


async def test_happy_path_over_rest(world: RestWorld) -> None:
    name = slug()
    tenant = await create(world, name)
    assert tenant["state"] == "TENANT_STATE_ACTIVE"
    assert await database_exists(world, name)
    tenant_id = tenant["tenantId"]
    by_slug = await world.call("GET", "/v1/tenants:lookup", params={"slug": name})
    assert by_slug.json()["tenant"]["tenantId"] == tenant_id
    labelled = await world.call("GET", "/v1/tenants", params={"labels": "suite=rest"})
    assert tenant_id in [t["tenantId"] for t in labelled.json()["tenants"]]
    updated = await world.call(
        "PATCH",
        f"/v1/tenants/{tenant_id}",
        params={"updateMask": "displayName"},
        json={"displayName": "Renamed", "etag": tenant["etag"]},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["tenant"]["displayName"] == "Renamed"
    current = await world.call("GET", "/v1/current-tenant", headers={"x-tenant-id": tenant_id})
    # A platform administrator naming the tenant gets it, as the README shows (platform override).
    assert current.status_code == 200, current.text
    assert current.json()["tenant"]["tenantId"] == tenant_id
    await world.call("DELETE", f"/v1/tenants/{tenant_id}")
