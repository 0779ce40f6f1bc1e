"""The isolation matrix (tests/support/isolation.py) over the registry's RPCs, direct
gRPC: every way of lacking access is refused, no RPC leaks."""

from __future__ import annotations

from pathlib import Path

from tenantmesh.registry.v1 import registry_service_pb2

from tests.support.isolation import GrpcCaller, build_world, run_matrix, served_rpcs
from tests.support.registry import registry_world


def declared_registry_rpcs() -> set[str]:
    services = registry_service_pb2.DESCRIPTOR.services_by_name.values()
    return {f"/{service.full_name}/{method.name}" for service in services for method in service.methods}


async def test_registry_isolation_matrix_grpc(db_backend_url: str, tmp_path: Path) -> None:
    async with registry_world(db_backend_url, tmp_path) as registry:
        world = await build_world(registry.mesh)
        caller = GrpcCaller()
        try:
            rpcs = [rpc for rpc in served_rpcs(registry.mesh.started) if rpc.server == "registry"]
            # Every RPC the registry's protos declare is served, so every one is in the matrix.
            assert {rpc.path for rpc in rpcs if "registry.v1" in rpc.path} == declared_registry_rpcs()
            result = await run_matrix(world, rpcs, caller)
        finally:
            await caller.close()
            await world.cleanup()
        print(result.summary("gRPC"))
        assert not result.leaks, result.summary("gRPC") + "\n" + "\n".join(result.leaks)
