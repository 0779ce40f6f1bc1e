"""Header names HTTP allows and gRPC metadata does not: dropped at the edge, never an INTERNAL.

Found by schemathesis: a REST request carrying e.g. `!igfp: x` reached the service, whose gRPC
core refused the whole call with INTERNAL ("Illegal header key"), a 500 for something any
client can send.
"""

from __future__ import annotations

import pytest

from .conftest import META_PACKAGE, META_SERVICE, EdgeFactory, FakeMetaService, GrpcUpstream

pytestmark = pytest.mark.edge


async def test_headers_grpc_cannot_carry_are_dropped_and_the_call_succeeds(
    edge_factory: EdgeFactory, meta_upstream: GrpcUpstream
) -> None:
    edge = await edge_factory([meta_upstream.upstream("meta", [META_PACKAGE], META_SERVICE)])
    weird = {"!igfp": "a", "c*a8": "b", "x~y": "c", "a|b`c": "d", "x-fine.name-2": "kept"}
    async with edge.http_client() as client:
        response = await client.get("/v1/meta/server-info", headers=weird)
    assert response.status_code == 200, response.text
    servicer: FakeMetaService = meta_upstream.servicers[META_SERVICE]
    seen = servicer.seen_metadata[-1]
    assert seen["x-fine.name-2"] == "kept"
    assert not set(weird) - {"x-fine.name-2"} & set(seen)
