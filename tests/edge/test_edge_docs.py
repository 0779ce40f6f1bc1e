"""The OpenAPI document and the API reference at the edge: `GET /openapi.json` and `/docs`
(Swagger UI, every asset from the mesh's own static server), public, cacheable, read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from services.mesh.static_site import OPENAPI_PATH, StaticServer, docs_pages
from tests.support.running_mesh import MeshProcess

from .conftest import META_PACKAGE, META_SERVICE, EdgeFactory, GrpcUpstream

pytestmark = pytest.mark.edge


@pytest.fixture
def static_server() -> Iterator[StaticServer]:
    server = StaticServer(docs_pages()).start()
    try:
        yield server
    finally:
        server.stop()


async def test_document_and_reference_are_public_and_cacheable(
    edge_factory: EdgeFactory, meta_upstream: GrpcUpstream, static_server: StaticServer
) -> None:
    # The auth package is not among these upstreams, so this edge checks no tokens; the token
    # exemption is checked against the whole mesh below.
    edge = await edge_factory([meta_upstream.upstream("meta", [META_PACKAGE], META_SERVICE)], site=static_server.site())
    async with edge.https_client() as client:
        document = await client.get("/openapi.json")
        assert document.status_code == 200
        assert document.headers["content-type"] == "application/json"
        assert "public" in document.headers["cache-control"]
        assert document.json() == json.loads(OPENAPI_PATH.read_text())
        again = await client.get("/openapi.json", headers={"if-none-match": document.headers["etag"]})
        assert again.status_code == 304

        page = await client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"):
            assert asset in page.text
            assert (await client.get(asset)).status_code == 200, asset

        # Nothing else: unknown files, other methods and paths outside the table are not served.
        assert (await client.get("/docs/../gen/openapi/tenantmesh.openapi.json")).status_code == 404
        assert (await client.get("/docs/nothing.js")).status_code == 404
        assert (await client.post("/openapi.json", json={})).status_code == 404
        # The REST API beside it is untouched.
        assert (await client.get("/v1/meta/server-info")).status_code == 200


async def test_the_running_mesh_serves_them_without_a_token(running_mesh: MeshProcess) -> None:
    async with running_mesh.client() as client:
        document = await client.get("/openapi.json")
        assert document.status_code == 200, document.text
        assert document.json()["openapi"] == "3.1.0"
        assert (await client.get("/docs")).status_code == 200
        # Everything else still needs a token.
        assert (await client.get("/v1/tenants")).status_code == 401
