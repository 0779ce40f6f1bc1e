"""The sample service (tests/sample) over REST through a real Envoy: its routes come from its proto
like every service's (the edge is given a descriptor set that holds it), and the REST isolation
matrix covers them with nothing written for it. See tests/grpc/test_sample_service.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.mesh.runner import upstreams_for
from tests.sample import MANIFEST
from tests.support.isolation import RestCaller, build_world, rest_rpcs, run_matrix, served_rpcs
from tests.support.platform import platform
from tests.support.sample_protos import compile_sample

from .conftest import EdgeFactory

pytestmark = pytest.mark.edge


async def test_sample_service_isolation_matrix_rest(
    db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory
) -> None:
    descriptor = compile_sample()
    async with platform(db_backend_url, tmp_path, manifest=MANIFEST, extra=("notes",)) as mesh:
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            descriptor_path=descriptor,
            per_tenant_rate_limit_rps=100_000,
            global_rate_limit_rps=100_000,
        )
        world = await build_world(mesh)
        try:
            rpcs = rest_rpcs(rpc for rpc in served_rpcs(mesh.started) if rpc.server == "notes")
            assert {(rpc.binding.verb, rpc.binding.template) for rpc in rpcs if rpc.binding is not None} >= {
                ("POST", "/v1/notes"),
                ("GET", "/v1/notes/{note_id}"),
                ("GET", "/v1/notes"),
                ("PATCH", "/v1/notes/{note.note_id}"),
            }
            async with edge.http_client() as client:
                result = await run_matrix(world, rpcs, RestCaller(client))
        finally:
            await world.cleanup()
        print(result.summary("REST through Envoy, sample service"))
        assert not result.leaks, "\n".join(result.leaks)
