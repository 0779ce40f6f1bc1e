"""Files over REST through a real Envoy: an upload is a raw body (streamed to the service in chunks,
past the edge's REST body limit), a download streams back with the file's content type, bad
uploads get 400 with the JSON status, another tenant's reference is 404, and the REST isolation
matrix covers the file routes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.mesh.runner import upstreams_for
from tests.support.isolation import RestCaller, build_world, rest_rpcs, run_matrix, served_rpcs
from tests.support.platform import platform

from .conftest import EdgeFactory

pytestmark = pytest.mark.edge

MiB = 1024 * 1024


def reason(body: dict[str, Any]) -> str:
    return next(str(d["reason"]) for d in body["details"] if d["@type"].endswith("ErrorInfo"))


async def test_files_over_rest(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> None:
    env = {"TENANTMESH_FILES_MAX_MIB": "4"}
    async with platform(db_backend_url, tmp_path, env, extra=("forms",)) as mesh:
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            per_tenant_rate_limit_rps=100_000,
            global_rate_limit_rps=100_000,
        )
        world = await build_world(mesh)
        try:
            a = {"authorization": f"Bearer {world.tokens['admin_a']}", "x-tenant-id": world.tenant_a}
            b = {"authorization": f"Bearer {world.tokens['admin_b']}", "x-tenant-id": world.tenant_b}
            # Three times the edge's 1 MiB REST body limit.
            data = os.urandom(3 * MiB + 17)
            async with edge.http_client() as client:
                response = await client.post(
                    "/v1/files:upload",
                    params={"filename": "scan.pdf"},
                    content=data,
                    headers={**a, "content-type": "application/pdf"},
                )
                assert response.status_code == 200, response.text
                file = response.json()["file"]
                assert (file["filename"], file["contentType"], file["sizeBytes"]) == (
                    "scan.pdf",
                    "application/pdf",
                    str(len(data)),
                )
                assert file["state"] == "FILE_STATE_UPLOADED"

                got = await client.get(f"/v1/files/{file['fileId']}", headers=a)
                assert got.status_code == 200
                assert got.json()["file"] == file
                download = await client.get(f"/v1/files/{file['fileId']}:download", headers=a)
                assert download.status_code == 200
                assert download.headers["content-type"] == "application/pdf"
                assert download.content == data
                # Saved rather than shown as a page of the edge's origin, never sniffed as another type.
                assert download.headers["content-disposition"] == "attachment"
                assert download.headers["x-content-type-options"] == "nosniff"

                # Another tenant: the reference does not exist there; the answer is the one for a
                # reference that never existed.
                unknown = str(uuid.uuid4())
                for verb, path in (
                    ("GET", "/v1/files/{}"),
                    ("GET", "/v1/files/{}:download"),
                    ("DELETE", "/v1/files/{}"),
                ):
                    refused = await client.request(verb, path.format(file["fileId"]), headers=b)
                    absent = await client.request(verb, path.format(unknown), headers=b)
                    assert (refused.status_code, reason(refused.json())) == (404, "FILE_NOT_FOUND")
                    assert (refused.status_code, refused.json()) == (absent.status_code, absent.json())

                # Over the platform's limit: 400, and nothing stored.
                too_big = await client.post(
                    "/v1/files:upload",
                    params={"filename": "big.bin"},
                    content=b"x" * (4 * MiB + 1),
                    headers={**a, "content-type": "application/zip"},
                )
                assert too_big.status_code == 400
                assert reason(too_big.json()) == "FILE_TOO_LARGE"
                html = await client.post(
                    "/v1/files:upload", content=b"<script>", headers={**a, "content-type": "text/html"}
                )
                assert html.status_code == 400
                assert reason(html.json()) == "FILE_TYPE_NOT_ALLOWED"
                # A prefix pattern of the allow-list ("application/vnd.oasis.opendocument.*") does
                # not take a subtype a browser renders as XHTML or SVG, nor XML or scripts.
                for web_type in (
                    "application/vnd.openxmlformats-officedocument.x+xml",
                    "application/vnd.oasis.opendocument.svg+xml",
                    "application/vnd.oasis.opendocument.html",
                    "application/vnd.oasis.opendocument.javascript",
                    "application/xml",
                ):
                    refused = await client.post(
                        "/v1/files:upload",
                        params={"filename": "x.html"},
                        content=b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
                        headers={**a, "content-type": web_type},
                    )
                    assert refused.status_code == 400, (web_type, refused.text)
                    assert reason(refused.json()) == "FILE_TYPE_NOT_ALLOWED"
                    assert refused.json()["code"] == 3
                # Office documents still go through the prefix patterns.
                sheet = await client.post(
                    "/v1/files:upload",
                    params={"filename": "budget.xlsx"},
                    content=b"PK\x03\x04",
                    headers={
                        **a,
                        "content-type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    },
                )
                assert sheet.status_code == 200, sheet.text
                sheet_id = sheet.json()["file"]["fileId"]
                assert (await client.delete(f"/v1/files/{sheet_id}", headers=a)).status_code == 200
                blobs = [name for _, _, names in os.walk(tmp_path / "blobs") for name in names]
                assert blobs == [file["fileId"]]

                deleted = await client.delete(f"/v1/files/{file['fileId']}", headers=a)
                assert deleted.status_code == 200
                assert (await client.get(f"/v1/files/{file['fileId']}", headers=a)).status_code == 404

            rpcs = rest_rpcs(rpc for rpc in served_rpcs(mesh.started) if rpc.server == "forms")
            assert {(rpc.binding.verb, rpc.binding.template) for rpc in rpcs if rpc.binding is not None} >= {
                ("POST", "/v1/files:upload"),
                ("GET", "/v1/files/{file_id}"),
                ("GET", "/v1/files/{file_id}:download"),
                ("DELETE", "/v1/files/{file_id}"),
            }
            async with edge.http_client() as client:
                result = await run_matrix(world, rpcs, RestCaller(client))
        finally:
            await world.cleanup()
        print(result.summary("REST through Envoy, forms files"))
        assert not result.leaks, "\n".join(result.leaks)
