"""grpc.health.v1.Health/List answers the statuses of what a server hosts, quietly (the
health package's asyncio servicer left it unimplemented: a traceback per call)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.platform import platform


async def test_health_list_answers_every_hosted_service(
    db_backend_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        stub = health_pb2_grpc.HealthStub(mesh.channel("tenants"))
        with caplog.at_level(logging.INFO):
            response = await stub.List(health_pb2.HealthListRequest(), timeout=10)
        serving = health_pb2.HealthCheckResponse.SERVING
        assert response.statuses[""].status == serving
        assert response.statuses["tenantmesh.tenants.v1.TenantService"].status == serving
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
