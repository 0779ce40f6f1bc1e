"""The isolation matrix over direct gRPC with the mesh's mutual TLS: every RPC the in-process
platform serves (every built service of the manifest, with meta and lifecycle), every way of
lacking access, zero leaks. See tests/support/isolation.py."""

from __future__ import annotations

from pathlib import Path

from tests.support.isolation import (
    PERMISSION_DENIED,
    GrpcCaller,
    build_shared_world,
    build_world,
    run_matrix,
    run_shared_person_matrix,
    served_rpcs,
)
from tests.support.mesh_tls import TESTER
from tests.support.platform import EVERY_OTHER_SERVICE, platform


async def test_isolation_matrix_grpc(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path, extra=EVERY_OTHER_SERVICE, mesh_tls=True) as mesh:
        world = await build_world(mesh)
        caller = GrpcCaller(mesh.runtime.settings.mesh_tls)
        try:
            rpcs = served_rpcs(mesh.started)
            # Sanity: the enumeration sees what the platform hosts, internal APIs included.
            paths = {rpc.path for rpc in rpcs}
            assert "/tenantmesh.lifecycle.v1.TenantLifecycleService/ProvisionTenant" in paths
            assert "/tenantmesh.auth.v1.UserService/CreateUser" in paths
            result = await run_matrix(world, rpcs, caller)
            # Internal-only RPCs refuse every other identity, whatever its token carries.
            internal = [rpc for rpc in rpcs if rpc.policy.callers]
            assert internal
            outsider = GrpcCaller(mesh.runtime.settings.mesh_tls, identity=TESTER)
            try:
                for rpc in internal:
                    outcome = await outsider(rpc, world.platform_admin, None)
                    assert (outcome.code, outcome.reason) == (PERMISSION_DENIED, "CALLER_NOT_ALLOWED"), rpc
            finally:
                await outsider.close()
        finally:
            await caller.close()
            await world.cleanup()
        print(result.summary("gRPC"))
        assert not result.leaks, result.summary("gRPC") + "\n" + "\n".join(result.leaks)


async def test_shared_person_matrix_grpc(db_backend_url: str, tmp_path: Path) -> None:
    """Every RPC as B's administrator against a person of A and B, people of A only and the
    platform administrator: nothing of A in any answer, nothing of A changed."""
    async with platform(db_backend_url, tmp_path, extra=EVERY_OTHER_SERVICE, mesh_tls=True) as mesh:
        world = await build_shared_world(mesh)
        caller = GrpcCaller(mesh.runtime.settings.mesh_tls)
        try:
            result = await run_shared_person_matrix(world, served_rpcs(mesh.started), caller)
        finally:
            await caller.close()
            await world.cleanup()
        print(result.summary("gRPC"))
        assert result.answered_ok > 0  # the matrix reached handlers, not only refusals
        assert not result.leaks, result.summary("gRPC") + "\n" + "\n".join(result.leaks)
        assert not result.edits, result.summary("gRPC") + "\n" + "\n".join(result.edits)
