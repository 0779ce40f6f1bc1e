"""Through a real Envoy: what the edge writes down and what it allows.

- The access log carries paths without their query string, so a token a caller put in a
  query parameter never reaches it.
- CORS preflights allow every method a REST route declares (derived from the routes: the
  registry's ``PUT /v1/enabled-services/{service}/config`` was missing from a fixed list).
- A gRPC call with a ``grpc-timeout`` or ``grpc-encoding`` the servers cannot parse is answered
  INVALID_ARGUMENT by the edge (grpc-core answered INTERNAL).
- A caller's ``x-envoy-*`` headers never reach the log or a service, and a caller's
  ``x-request-id`` is kept only in the shape the services accept.
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


# --------------------------------------------------------------------------- what a caller cannot say


@pytest.mark.parametrize("rest", [False, True])
async def test_a_callers_x_envoy_headers_never_reach_the_log_or_a_service(
    edge: RunningEdge, meta_upstream: GrpcUpstream, rest: bool
) -> None:
    """x-envoy-* headers are the edge's to write. The access log's method comes from
    x-envoy-original-method (the transcoder's), so a caller's own copy made the line of a POST
    say DELETE; nor does a service see any such header as the caller wrote it."""
    request_id = str(uuid.uuid4())
    forged = {
        "x-request-id": request_id,
        "x-envoy-original-method": "DELETE",
        "x-envoy-original-path": "/v1/forged",
        "x-envoy-internal": "true",
        "x-envoy-peer-metadata": "forged",
    }
    seen: list[dict[str, str]] = meta_upstream.servicers[META_SERVICE].seen_metadata
    if rest:
        async with edge.http_client() as client:
            response = await client.get("/v1/meta/server-info", headers=forged)
        assert response.status_code == 200, response.text
    else:
        response = await _grpc_post(edge, forged)
        assert response.status_code == 200, response.text
        assert "grpc-status" not in response.headers, dict(response.headers)
    _, [line] = await _log_lines(edge, request_id)
    assert (line["method"], line["path"]) == (("GET", "/v1/meta/server-info") if rest else ("POST", GET_SERVER_INFO))
    [metadata] = [m for m in seen if m.get("x-request-id") == request_id]
    # What reaches the service is Envoy's own: the peer's address and, for a REST call, the
    # transcoder's record of it.
    written = {"x-envoy-external-address": "127.0.0.1"}
    if rest:
        written |= {"x-envoy-original-method": "GET", "x-envoy-original-path": "/v1/meta/server-info"}
    assert {k: v for k, v in metadata.items() if k.startswith("x-envoy-")} == written


async def test_a_plain_request_id_is_kept_and_any_other_replaced_by_a_fresh_one(
    edge: RunningEdge, meta_upstream: GrpcUpstream
) -> None:
    """The services' shape (services/runtime/interceptors/request_id.py) is the edge's: a plain
    id comes back as sent, a bad or repeated one is replaced, by a different id each time."""
    seen: list[dict[str, str]] = meta_upstream.servicers[META_SERVICE].seen_metadata
    async with edge.http_client() as client:
        plain = "Ab9._:-" + "z" * 121
        kept = await client.get("/v1/meta/server-info", headers={"x-request-id": plain})
        assert (kept.headers["x-request-id"], seen[-1]["x-request-id"]) == (plain, plain)
        replaced = []
        for bad in ["two words", "z" * 129, ""]:
            response = await client.get("/v1/meta/server-info", headers={"x-request-id": bad})
            replaced.append(response.headers["x-request-id"])
            assert seen[-1]["x-request-id"] == replaced[-1]
        repeated = await client.get(
            "/v1/meta/server-info", headers=[("x-request-id", "first-id"), ("x-request-id", "second-id")]
        )
        replaced.append(repeated.headers["x-request-id"])
    assert all(uuid.UUID(value).version == 4 for value in replaced), replaced
    assert len(set(replaced)) == len(replaced)


# --------------------------------------------------------------------------- slow requests


async def _trickle(edge: RunningEdge, head: bytes, body_length: int, seconds: float) -> tuple[bytes, float]:
    """Sends ``head`` then a byte of its body every 0.5 s (never the whole body) for at most
    ``seconds``; returns what the edge answered and when."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.settings.http_port)
    started = time.monotonic()
    try:
        writer.write(head)
        for _ in range(min(body_length - 1, int(seconds * 2))):
            try:
                answer = await asyncio.wait_for(reader.read(65536), 0.5)
            except TimeoutError:
                writer.write(b"0")
                continue
            return answer, time.monotonic() - started
        return b"", time.monotonic() - started
    finally:
        writer.close()


@pytest.mark.parametrize("grpc_call", [False, True])
async def test_a_body_trickled_slower_than_the_request_timeout_is_cut(
    edge_factory: EdgeFactory, meta_upstream: GrpcUpstream, grpc_call: bool
) -> None:
    """A body sent a byte at a time (each within the 5 min stream idle timeout) held its
    request, and its connection, for as long as the caller liked: the edge's connections are
    capped, so a few thousand such callers shut everyone else out. The whole request must now
    arrive within request_timeout_seconds (408, DEADLINE_EXCEEDED)."""
    slow = await edge_factory(
        [
            meta_upstream.upstream("meta", [META_PACKAGE], health_service=META_SERVICE),
            meta_upstream.upstream("registry", [REGISTRY_PACKAGE]),
        ],
        request_timeout_seconds=2,
    )
    if grpc_call:
        head = f"POST {GET_SERVER_INFO} HTTP/1.1\r\nhost: edge\r\ncontent-type: application/grpc\r\n"
    else:
        head = "POST /v1/services HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n"
    answer, elapsed = await _trickle(slow, f"{head}content-length: 100\r\n\r\n".encode(), 100, seconds=8)
    assert answer.startswith(b"HTTP/1.1 408 ") if not grpc_call else answer.startswith(b"HTTP/1.1 200 "), answer
    assert elapsed < 4, elapsed
    if grpc_call:
        assert b"grpc-status: 4\r\n" in answer, answer  # DEADLINE_EXCEEDED
    else:
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["details"][0]["reason"] == "REQUEST_TIMEOUT"
