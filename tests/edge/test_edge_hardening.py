"""Through a real Envoy: what the edge writes down and what it allows.

- The access log carries paths without their query string, so a token a caller put in a
  query parameter never reaches it.
- CORS preflights allow every method a REST route declares (derived from the routes: the
  registry's ``PUT /v1/enabled-services/{service}/config`` was missing from a fixed list).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from .conftest import META_PACKAGE, META_SERVICE, EdgeFactory, GrpcUpstream, RunningEdge

pytestmark = pytest.mark.edge

ALLOWED_ORIGIN = "https://app.example.test"
REGISTRY_PACKAGE = "tenantmesh.registry.v1"


@pytest.fixture(scope="module")
async def edge(module_edge_factory: EdgeFactory, meta_upstream: GrpcUpstream) -> RunningEdge:
    # The registry's routes point at the meta server: preflights and the log never reach it.
    return await module_edge_factory(
        [
            meta_upstream.upstream("meta", [META_PACKAGE], health_service=META_SERVICE),
            meta_upstream.upstream("registry", [REGISTRY_PACKAGE]),
        ],
        cors_allowed_origins=(ALLOWED_ORIGIN,),
    )


async def _log_lines(edge: RunningEdge, request_id: str) -> tuple[str, list[dict[str, object]]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = edge.access_log.read_text() if edge.access_log.exists() else ""
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        found = [line for line in lines if line.get("request_id") == request_id]
        if found:
            return text, found
        await asyncio.sleep(0.1)
    raise AssertionError(f"request {request_id} not in the access log")


@pytest.mark.parametrize("path", ["/v1/meta/server-info", "/v1/no-such-route"])
async def test_access_log_drops_query_strings(edge: RunningEdge, path: str) -> None:
    secret = f"tok-{uuid.uuid4().hex}"
    request_id = str(uuid.uuid4())
    async with edge.https_client() as client:
        await client.get(f"{path}?access_token={secret}&page_size=3", headers={"x-request-id": request_id})
    text, lines = await _log_lines(edge, request_id)
    assert secret not in text
    assert [line["path"] for line in lines] == [path]
    assert all("?" not in str(line["grpc_method"]) for line in lines)


async def test_cors_preflight_allows_put_of_a_service_configuration(edge: RunningEdge) -> None:
    async with edge.https_client() as client:
        response = await client.options(
            "/v1/enabled-services/billing/config",
            headers={
                "origin": ALLOWED_ORIGIN,
                "access-control-request-method": "PUT",
                "access-control-request-headers": "authorization, content-type, x-tenant-id",
            },
        )
    assert response.status_code == 200
    allowed = {method.strip() for method in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} <= allowed


async def test_oversized_request_headers_get_the_json_error(edge: RunningEdge) -> None:
    """HTTP/1.1 headers over the limit: Envoy's 431, in the shape of its other replies (it was
    text/plain "Request Header Fields Too Large")."""
    async with edge.http_client() as client:
        response = await client.get("/v1/meta/server-info", headers={"x-big": "a" * 70_000})
    assert response.status_code == 431, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == 3  # INVALID_ARGUMENT: the same headers again cannot succeed
    assert body["message"] == "the request's headers are larger than the edge accepts"
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "REQUEST_TOO_LARGE",
            "domain": "tenantmesh.dev",
            "metadata": {},
        }
    ]
