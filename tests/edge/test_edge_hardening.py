"""Through a real Envoy: what the edge writes down and what it allows.

- The access log carries paths without their query string, so a token a caller put in a
  query parameter never reaches it.
- CORS preflights allow every method a REST route declares (derived from the routes: the
  registry's ``PUT /v1/enabled-services/{service}/config`` was missing from a fixed list).
- A gRPC call with a ``grpc-timeout`` or ``grpc-encoding`` the servers cannot parse is answered
  INVALID_ARGUMENT by the edge (grpc-core answered INTERNAL).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
import uuid
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc

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


async def test_access_log_lines_keep_their_own_size(edge: RunningEdge) -> None:
    """What a caller writes in its headers and path is cut to a bounded length in the log line."""
    request_id = str(uuid.uuid4())
    headers = {
        "x-request-id": request_id,
        "user-agent": "u" * 6000,
        "traceparent": "t" * 3000,
        "x-tenant-id": "x" * 3000,
    }
    async with edge.https_client() as client:
        await client.get("/v1/meta/" + "p" * 5000, headers=headers)
    _, [line] = await _log_lines(edge, request_id)
    assert len(json.dumps(line)) < 3000
    assert (len(str(line["user_agent"])), len(str(line["traceparent"])), len(str(line["tenant_id"]))) == (256, 128, 64)
    assert len(str(line["path"])) == 1024


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


# --------------------------------------------------------------------------- gRPC headers

GET_SERVER_INFO = f"/{META_SERVICE}/GetServerInfo"
# One uncompressed, empty message (GetServerInfoRequest has no fields set).
EMPTY_GRPC_MESSAGE = b"\x00\x00\x00\x00\x00"


async def _grpc_post(edge: RunningEdge, headers: dict[str, str]) -> httpx.Response:
    """A raw gRPC call to GetServerInfo (HTTP/1.1: a trailers-only reply's status is in its headers)."""
    async with edge.http_client() as client:
        return await client.post(
            GET_SERVER_INFO,
            content=EMPTY_GRPC_MESSAGE,
            headers={"content-type": "application/grpc", "te": "trailers", **headers},
        )


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("grpc-timeout", "zz"),
        ("grpc-timeout", "99999999999S"),  # the spec's TimeoutValue has at most 8 digits
        ("grpc-timeout", "-1S"),
        ("grpc-timeout", "1.5S"),
        ("grpc-timeout", "5s"),  # units are H M S m u n
        ("grpc-encoding", "bogus"),
        ("grpc-encoding", "GZIP"),
    ],
)
async def test_unparsable_grpc_header_is_invalid_argument(edge: RunningEdge, header: str, value: str) -> None:
    """grpc-core answered such a call INTERNAL ("Error parsing 'grpc-timeout' metadata"): the edge
    answers it INVALID_ARGUMENT, with the ErrorInfo and the header as the field violation."""
    response = await _grpc_post(edge, {header: value})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/grpc"
    assert response.headers.get("grpc-status") == "3", dict(response.headers)
    encoded = response.headers["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert status.code == 3
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("HEADER_INVALID", "tenantmesh.dev")
    assert status.details[1].Unpack(bad_request)
    assert [violation.field for violation in bad_request.field_violations] == [header]
    assert urllib.parse.unquote(response.headers["grpc-message"]) == status.message
    assert header in status.message
    # It never reached the service: a bad grpc-timeout stayed in the HPACK table of Envoy's
    # connection, and every later call with a grpc-timeout on it failed INTERNAL too.
    after = await _grpc_post(edge, {"grpc-timeout": "5S"})
    assert "grpc-status" not in after.headers, dict(after.headers)


@pytest.mark.parametrize(("header", "value"), [("grpc-timeout", "zz"), ("grpc-encoding", "bogus")])
async def test_unparsable_grpc_header_on_rest_is_invalid_argument(edge: RunningEdge, header: str, value: str) -> None:
    """The transcoder passes a REST caller's grpc-* headers on (the service answered 500 INTERNAL)."""
    async with edge.http_client() as client:
        response = await client.get("/v1/meta/server-info", headers={header: value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 3
    assert header in body["message"]
    info, bad_request = body["details"]
    assert (info["reason"], info["domain"]) == ("HEADER_INVALID", "tenantmesh.dev")
    assert bad_request["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [violation["field"] for violation in bad_request["fieldViolations"]] == [header]


@pytest.mark.parametrize(
    "headers",
    [
        {"grpc-timeout": "5S"},
        {"grpc-timeout": "100m"},
        {"grpc-timeout": "99999999n"},
        {"grpc-encoding": "identity"},
        {"grpc-encoding": "gzip", "grpc-timeout": "1H"},
    ],
)
async def test_valid_grpc_headers_reach_the_service(edge: RunningEdge, headers: dict[str, str]) -> None:
    response = await _grpc_post(edge, headers)
    assert response.status_code == 200, response.text
    assert "grpc-status" not in response.headers, dict(response.headers)
    assert meta_service_pb2.GetServerInfoResponse.FromString(response.content[5:]).product == "tenantmesh"


@pytest.mark.parametrize("te", [None, "gzip", "trailers, deflate"])
async def test_a_grpc_call_without_te_trailers_reaches_the_service(edge: RunningEdge, te: str | None) -> None:
    """grpc-core resets a stream without "te: trailers": the caller got UNAVAILABLE after retries."""
    headers = {"content-type": "application/grpc", **({"te": te} if te else {})}
    async with edge.http_client() as client:
        response = await client.post(GET_SERVER_INFO, content=EMPTY_GRPC_MESSAGE, headers=headers)
    assert response.status_code == 200, response.text
    assert "grpc-status" not in response.headers, dict(response.headers)
    assert meta_service_pb2.GetServerInfoResponse.FromString(response.content[5:]).product == "tenantmesh"


@pytest.mark.parametrize(
    "header",
    [
        "grpc-previous-rpc-attempts",
        "grpc-retry-pushback-ms",
        "grpc-status",
        "grpc-internal-encoding-request",
        "grpc-tags-bin",
        "grpc-trace-bin",
        "lb-cost-bin",
    ],
)
async def test_the_grpc_transports_own_headers_are_dropped_at_the_edge(edge: RunningEdge, header: str) -> None:
    # A service's grpc-core answered INTERNAL for values of these it could not parse.
    for _ in range(2):
        response = await _grpc_post(edge, {header: "not-a-value!"})
        assert response.status_code == 200, response.text
        assert "grpc-status" not in response.headers, dict(response.headers)
        assert meta_service_pb2.GetServerInfoResponse.FromString(response.content[5:]).product == "tenantmesh"


@pytest.mark.parametrize(
    "compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip, grpc.Compression.Deflate]
)
async def test_grpcio_timeouts_and_compression_pass(edge: RunningEdge, compression: grpc.Compression) -> None:
    """What grpcio (and so the Python SDK) sends: its own grpc-timeout encoding, each compression."""
    async with edge.grpc_plain_channel() as channel:
        meta: Any = meta_service_pb2_grpc.MetaServiceStub(channel)
        for timeout in (0.05 + 5, 3600.0, 86400.0 * 30):
            reply = await meta.GetServerInfo(
                meta_service_pb2.GetServerInfoRequest(), timeout=timeout, compression=compression
            )
            assert reply.product == "tenantmesh"
