"""The tenants server as ``create_server`` builds it: health, reflection and server info."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc

from tests.grpc.conftest import TenantWorld

HOSTED = [
    "tenantmesh.lifecycle.v1.TenantLifecycleService",
    "tenantmesh.meta.v1.MetaService",
    "tenantmesh.tenants.v1.TenantService",
]


async def test_health_reports_each_hosted_service(world: TenantWorld) -> None:
    health = health_pb2_grpc.HealthStub(world.mesh.channel)
    for service in ["", *HOSTED]:
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await health.Check(health_pb2.HealthCheckRequest(service="tenantmesh.nope.v1.Nope"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_the_mesh_api_but_no_internal_service(world: TenantWorld) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(world.mesh.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [answer] = [a async for a in stub.ServerReflectionInfo(iter([request]))]
    names = {s.name for s in answer.list_services_response.service}
    # Internal-only services (the lifecycle API, callers restricted) are served but not listed.
    assert set(HOSTED) - names == {"tenantmesh.lifecycle.v1.TenantLifecycleService"}
    assert "grpc.health.v1.Health" in names
    # Like GetServerInfo, the mesh's public API besides the hosted services.
    assert set(world.mesh.runtime.settings.manifest.api_services()) <= names


async def test_server_info_is_public_and_lists_services(world: TenantWorld) -> None:
    meta = meta_service_pb2_grpc.MetaServiceStub(world.mesh.channel)
    info = await meta.GetServerInfo(meta_service_pb2.GetServerInfoRequest())
    assert info.product == "tenantmesh"
    assert info.version == world.mesh.runtime.settings.version
    # The mesh's services, not only this process's (it reached whichever process hosts it).
    assert set(HOSTED) <= set(info.services)
    assert set(world.mesh.runtime.settings.manifest.api_services()) <= set(info.services)
    assert "tenantmesh.auth.v1.AuthService" in info.services
    assert list(info.services) == sorted(set(info.services))
