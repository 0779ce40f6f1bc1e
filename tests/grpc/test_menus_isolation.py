"""The isolation matrices (tests/support/isolation.py) over the menus service's RPCs, direct gRPC:
every way of lacking access is refused, and B's administrator learns and changes nothing of A."""

from __future__ import annotations

from pathlib import Path

from tenantmesh.menus.v1 import menu_service_pb2

from tests.support.isolation import (
    GrpcCaller,
    build_shared_world,
    build_world,
    run_matrix,
    run_shared_person_matrix,
    served_rpcs,
)
from tests.support.menus import menus_world


def declared_menus_rpcs() -> set[str]:
    services = menu_service_pb2.DESCRIPTOR.services_by_name.values()
    return {f"/{service.full_name}/{method.name}" for service in services for method in service.methods}


async def test_menus_isolation_matrix_grpc(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as menus:
        world = await build_world(menus.mesh)
        caller = GrpcCaller()
        try:
            rpcs = [rpc for rpc in served_rpcs(menus.mesh.started) if rpc.server == "menus"]
            assert {rpc.path for rpc in rpcs if "menus.v1" in rpc.path} == declared_menus_rpcs()
            result = await run_matrix(world, rpcs, caller)
        finally:
            await caller.close()
            await world.cleanup()
        print(result.summary("gRPC"))
        assert not result.leaks, result.summary("gRPC") + "\n" + "\n".join(result.leaks)


async def test_menus_shared_person_matrix_grpc(db_backend_url: str, tmp_path: Path) -> None:
    async with menus_world(db_backend_url, tmp_path) as menus:
        world = await build_shared_world(menus.mesh)
        caller = GrpcCaller()
        try:
            rpcs = [rpc for rpc in served_rpcs(menus.mesh.started) if rpc.server == "menus"]
            result = await run_shared_person_matrix(world, rpcs, caller)
        finally:
            await caller.close()
            await world.cleanup()
        print(result.summary("gRPC"))
        assert result.answered_ok > 0
        assert not result.leaks, result.summary("gRPC") + "\n" + "\n".join(result.leaks)
        assert not result.edits, result.summary("gRPC") + "\n" + "\n".join(result.edits)
