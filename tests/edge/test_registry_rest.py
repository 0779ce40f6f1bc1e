"""The registry over REST through a real Envoy, with real tokens: bad input gets
its HTTP status and a JSON google.rpc.Status with the reason and field paths, and
Watch arrives as a streamed JSON array."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import descriptor_pb2

from services.mesh.runner import upstreams_for
from tests.edge.conftest import EdgeFactory, RunningEdge
from tests.edge.test_tenants_rest import reason_of, violation_fields
from tests.support.isolation import RestCaller, build_world, rest_rpcs, run_matrix, served_rpcs
from tests.support.registry import RegistryWorld, descriptor_set, message, registry_world

F = descriptor_pb2.FieldDescriptorProto
SCHEMA = {
    "type": "object",
    "properties": {"region": {"type": "string", "enum": ["eu", "us"]}, "replicas": {"type": "integer", "minimum": 1}},
    "required": ["region", "replicas"],
}


@dataclass
class RestWorld:
    registry: RegistryWorld
    edge: RunningEdge
    client: httpx.AsyncClient  # the platform administrator

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, **kwargs)

    def as_caller(self, token: str, tenant_id: str) -> httpx.AsyncClient:
        return self.edge.https_client(headers={"authorization": f"Bearer {token}", "x-tenant-id": tenant_id})


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> AsyncIterator[RestWorld]:
    async with registry_world(db_backend_url, tmp_path) as registry:
        mesh = registry.mesh
        edge = await edge_factory(upstreams_for(mesh.started, mesh.runtime.settings))
        token = await registry.admin_token()
        async with edge.https_client(headers={"authorization": f"Bearer {token}"}) as client:
            yield RestWorld(registry=registry, edge=edge, client=client)


def name() -> str:
    return f"rest-{uuid.uuid4().hex[:8]}"


def service(service_name: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": service_name,
        "kind": "SERVICE_KIND_EXTERNAL_HTTP",
        "permissions": [{"name": f"{service_name}.things.read"}],
        "menuEntries": [{"id": "things", "label": "Things", "route": "/things"}],
        "versions": [{"version": "1.0.0"}],
    }
    body.update(fields)
    return body


async def test_catalogue_errors_map_to_http_statuses(world: RestWorld) -> None:
    bad_schema = await world.call(
        "POST", "/v1/services", json=service(name(), configSchema={"type": "objekt", "required": "x"})
    )
    assert (bad_schema.status_code, reason_of(bad_schema)) == (400, "SCHEMA_INVALID")
    assert violation_fields(bad_schema) == {"service.configSchema.type", "service.configSchema.required"}

    taken = name()
    created = await world.call("POST", "/v1/services", json=service(taken, configSchema=SCHEMA))
    assert created.status_code == 200, created.text
    assert created.json()["service"]["versions"][0]["version"] == "1.0.0"
    duplicate = await world.call("POST", "/v1/services", json=service(taken))
    assert (duplicate.status_code, reason_of(duplicate)) == (409, "SERVICE_NAME_TAKEN")

    unknown = await world.call("GET", f"/v1/services/{name()}")
    assert (unknown.status_code, reason_of(unknown)) == (404, "SERVICE_NOT_FOUND")
    listed = await world.call("GET", "/v1/services", params={"kind": "SERVICE_KIND_EXTERNAL_HTTP"})
    assert taken in [s["name"] for s in listed.json()["services"]]


async def test_breaking_contract_without_force_over_rest(world: RestWorld) -> None:
    grpc_name = name()
    v1 = descriptor_set(message("Invoice", id=(1, F.TYPE_STRING), total=(2, F.TYPE_INT64)))
    v2 = descriptor_set(message("Invoice", id=(1, F.TYPE_STRING)))
    created = await world.call(
        "POST",
        "/v1/services",
        json={
            "name": grpc_name,
            "kind": "SERVICE_KIND_INTERNAL_GRPC",
            "versions": [{"version": "1.0.0", "descriptorSet": base64.b64encode(v1).decode()}],
        },
    )
    assert created.status_code == 200, created.text
    version = {"version": "1.1.0", "descriptorSet": base64.b64encode(v2).decode()}
    refused = await world.call("POST", f"/v1/services/{grpc_name}/versions", json=version)
    assert (refused.status_code, reason_of(refused)) == (400, "CONTRACT_BREAKING")
    forced = await world.call("POST", f"/v1/services/{grpc_name}/versions", params={"force": "true"}, json=version)
    assert forced.status_code == 200, forced.text
    assert [b["kind"] for b in forced.json()["forcedBreaks"]] == ["FIELD_REMOVED"]


async def test_enablement_errors_map_to_http_statuses(world: RestWorld) -> None:
    registry = world.registry
    service_name = name()
    assert (
        await world.call("POST", "/v1/services", json=service(service_name, configSchema=SCHEMA))
    ).status_code == 200
    tenant_a, tenant_b = await registry.new_tenant("rest"), await registry.new_tenant("rest")
    token_a = await registry.tenant_admin_token(tenant_a)
    async with world.as_caller(token_a, tenant_a) as admin_a:
        invalid = await admin_a.post(
            "/v1/enabled-services", json={"service": service_name, "config": {"region": "mars", "replicas": 0}}
        )
        assert (invalid.status_code, reason_of(invalid)) == (400, "CONFIG_INVALID")
        assert violation_fields(invalid) == {"config.region", "config.replicas"}
        missing = await admin_a.post("/v1/enabled-services", json={"service": service_name, "config": {}})
        assert violation_fields(missing) == {"config.region", "config.replicas"}

        body = {"service": service_name, "config": {"region": "eu", "replicas": 2}}
        enabled = await admin_a.post("/v1/enabled-services", json=body)
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["enabledService"]["config"] == {"region": "eu", "replicas": 2}
        twice = await admin_a.post("/v1/enabled-services", json=body)
        assert (twice.status_code, reason_of(twice)) == (409, "SERVICE_ALREADY_ENABLED")

        updated = await admin_a.put(f"/v1/enabled-services/{service_name}/config", json={"region": "us", "replicas": 3})
        assert updated.status_code == 200, updated.text
        assert updated.json()["enabledService"]["etag"] == "2"
        unknown = await admin_a.post("/v1/enabled-services", json={"service": name()})
        assert (unknown.status_code, reason_of(unknown)) == (404, "SERVICE_NOT_FOUND")
        available = await admin_a.get("/v1/available-services", params={"pageSize": 500})
        assert available.status_code == 200, available.text
        assert service_name in [s["name"] for s in available.json()["services"]]
        bad_page = await admin_a.get("/v1/available-services", params={"pageToken": "forged"})
        assert (bad_page.status_code, reason_of(bad_page)) == (400, "PAGE_TOKEN_INVALID")
    # Tenant A's administrator in tenant B.
    async with world.as_caller(token_a, tenant_b) as foreign:
        for method, path in (
            ("GET", "/v1/enabled-services"),
            ("GET", "/v1/available-services"),
            ("GET", f"/v1/enabled-services/{service_name}"),
            ("DELETE", f"/v1/enabled-services/{service_name}"),
        ):
            denied = await foreign.request(method, path)
            assert (denied.status_code, reason_of(denied)) == (403, "TENANT_MISMATCH"), (method, path)
        denied = await foreign.post("/v1/enabled-services", json=body)
        assert (denied.status_code, reason_of(denied)) == (403, "TENANT_MISMATCH")


async def test_heartbeat_for_an_expired_lease_is_404(world: RestWorld) -> None:
    service_name = name()
    assert (await world.call("POST", "/v1/services", json=service(service_name))).status_code == 200
    registered = await world.call(
        "POST",
        f"/v1/services/{service_name}/instances",
        params={"ttlSeconds": "5"},
        json={"address": "https://a.example.test", "version": "1.0.0"},
    )
    assert registered.status_code == 200, registered.text
    instance_id = registered.json()["instance"]["instanceId"]
    beat = await world.call("POST", f"/v1/instances/{instance_id}:heartbeat", json={})
    assert beat.status_code == 200, beat.text
    world.registry.clock.advance(6)
    expired = await world.call("POST", f"/v1/instances/{instance_id}:heartbeat", json={})
    assert (expired.status_code, reason_of(expired)) == (404, "LEASE_NOT_FOUND")


async def test_watch_is_a_streamed_json_array(world: RestWorld) -> None:
    first, second = name(), name()
    assert (await world.call("POST", "/v1/services", json=service(first))).status_code == 200
    await world.registry.events_relayed()
    received: list[dict[str, Any]] = []
    synced = asyncio.Event()
    decoder = json.JSONDecoder()

    async def watch() -> None:
        params = {"services": [first, second], "sendInitialState": "true"}
        async with world.client.stream("GET", "/v1/services:watch", params=params, timeout=None) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/json")
            buffer = ""
            async for chunk in response.aiter_text():
                buffer += chunk
                # The body is "[" message ("," message)* "]", sent piece by piece.
                while True:
                    buffer = buffer.lstrip("[,\r\n ")
                    try:
                        item, end = decoder.raw_decode(buffer)
                    except json.JSONDecodeError:
                        break
                    received.append(item)
                    buffer = buffer[end:]
                    if item["type"] == "WATCH_EVENT_TYPE_SYNCED":
                        synced.set()
                if any(m.get("service", {}).get("name") == second for m in received):
                    return

    task = asyncio.create_task(watch())
    try:
        async with asyncio.timeout(10):
            await synced.wait()
        assert (await world.call("POST", "/v1/services", json=service(second))).status_code == 200
        async with asyncio.timeout(10):
            await task
    finally:
        task.cancel()
    changes = [
        (m["type"], m.get("service", {}).get("name")) for m in received if m["type"] != "WATCH_EVENT_TYPE_KEEPALIVE"
    ]
    assert changes == [
        ("WATCH_EVENT_TYPE_ADDED", first),
        ("WATCH_EVENT_TYPE_SYNCED", None),
        ("WATCH_EVENT_TYPE_ADDED", second),
    ]


async def test_a_watch_that_fails_after_it_opened_ends_with_its_error(world: RestWorld) -> None:
    """Over REST a stream's status cannot reach most clients in trailers: a Watch the server ends
    (ABORTED WATCH_OVERFLOW: watch again) closes its array with an element holding the error."""
    body = ""
    synced = asyncio.Event()

    async def watch() -> None:
        nonlocal body
        params = {"sendInitialState": "true"}
        async with world.client.stream("GET", "/v1/services:watch", params=params, timeout=None) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_text():
                body += chunk
                if "WATCH_EVENT_TYPE_SYNCED" in body:
                    synced.set()

    task = asyncio.create_task(watch())
    try:
        async with asyncio.timeout(10):
            await synced.wait()
        for watcher in list(world.registry.app.hub._watchers):
            watcher.overflow()
        async with asyncio.timeout(10):
            await task
    finally:
        task.cancel()
    elements = json.loads(body)
    assert elements[0]["type"] == "WATCH_EVENT_TYPE_SYNCED"
    last = elements[-1]
    # Nothing else set (the edge prints the enum's zero value, as for every message).
    assert {key: value for key, value in last.items() if key != "error"} == {"type": "WATCH_EVENT_TYPE_UNSPECIFIED"}
    assert last["error"]["code"] == 10  # ABORTED
    [info] = last["error"]["details"]
    assert (info["@type"], info["reason"]) == ("type.googleapis.com/google.rpc.ErrorInfo", "WATCH_OVERFLOW")


async def test_a_watch_refused_before_it_opened_is_an_error_response(world: RestWorld) -> None:
    response = await world.call("GET", "/v1/services:watch", params={"services": "Not A Name!"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3


async def test_registry_isolation_matrix_rest(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> None:
    async with registry_world(db_backend_url, tmp_path) as registry:
        mesh = registry.mesh
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            per_tenant_rate_limit_rps=100_000,
            global_rate_limit_rps=100_000,
        )
        world = await build_world(mesh)
        try:
            rpcs = rest_rpcs(rpc for rpc in served_rpcs(mesh.started) if rpc.server == "registry")
            assert any(rpc.path == "/tenantmesh.registry.v1.DiscoveryService/Watch" for rpc in rpcs)
            async with edge.http_client() as client:
                result = await run_matrix(world, rpcs, RestCaller(client))
        finally:
            await world.cleanup()
        print(result.summary("REST through Envoy"))
        assert not result.leaks, result.summary("REST") + "\n" + "\n".join(result.leaks)
