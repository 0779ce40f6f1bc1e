"""The isolation matrix over REST through a real Envoy (jwt_authn + transcoding) in front of
the in-process platform: every REST binding of every routed RPC, every way of lacking access,
zero leaks. Envoy reaches the services over the mesh's mutual TLS, as in production. Lifecycle
has no REST route (internal), so it is covered by the gRPC matrix only.
See tests/support/isolation.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.mesh.runner import upstreams_for
from tests.support.isolation import (
    RestCaller,
    build_shared_world,
    build_world,
    rest_rpcs,
    run_matrix,
    run_shared_person_matrix,
    served_rpcs,
)
from tests.support.platform import EVERY_OTHER_SERVICE, platform

from .conftest import EdgeFactory, edge_tls_of

pytestmark = pytest.mark.edge


async def test_isolation_matrix_rest(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> None:
    async with platform(db_backend_url, tmp_path, extra=EVERY_OTHER_SERVICE, mesh_tls=True) as mesh:
        # Rate limits high enough for the matrix's burst of calls from one tenant.
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            mesh_tls=edge_tls_of(mesh, tmp_path),
            per_tenant_rate_limit_rps=100_000,
            global_rate_limit_rps=100_000,
        )
        world = await build_world(mesh)
        try:
            rpcs = rest_rpcs(served_rpcs(mesh.started))
            assert not any("lifecycle" in rpc.path for rpc in rpcs)
            assert any(rpc.path == "/tenantmesh.auth.v1.UserService/CreateUser" for rpc in rpcs)
            async with edge.http_client() as client:
                result = await run_matrix(world, rpcs, RestCaller(client))
        finally:
            await world.cleanup()
        print(result.summary("REST through Envoy"))
        assert not result.leaks, result.summary("REST") + "\n" + "\n".join(result.leaks)


async def test_shared_person_matrix_rest(db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory) -> None:
    """The shared-person matrix (see tests/support/isolation.py) over every REST binding."""
    async with platform(db_backend_url, tmp_path, extra=EVERY_OTHER_SERVICE, mesh_tls=True) as mesh:
        edge = await edge_factory(
            upstreams_for(mesh.started, mesh.runtime.settings),
            mesh_tls=edge_tls_of(mesh, tmp_path),
            per_tenant_rate_limit_rps=100_000,
            global_rate_limit_rps=100_000,
        )
        world = await build_shared_world(mesh)
        try:
            async with edge.http_client() as client:
                result = await run_shared_person_matrix(world, rest_rpcs(served_rpcs(mesh.started)), RestCaller(client))
        finally:
            await world.cleanup()
        print(result.summary("REST through Envoy"))
        assert result.answered_ok > 0
        assert not result.leaks, result.summary("REST") + "\n" + "\n".join(result.leaks)
        assert not result.edits, result.summary("REST") + "\n" + "\n".join(result.edits)
