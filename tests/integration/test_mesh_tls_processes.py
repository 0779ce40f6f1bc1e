"""Mesh TLS as production runs it: tenants and auth each in its own process on MariaDB + Redis,
each with its own certificate from files (python -m services.mesh.certs), calling each other
over mutual TLS: logins look tenants up at the tenants service, tenant creation provisions over
the lifecycle API as the tenants service, and nothing answers a caller without a certificate."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from tenantmesh.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from tests.integration.test_revocation_processes import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    bearer,
    drop_tenant_databases,
    mysql_core_url,  # noqa: F401 - a fixture
)
from tests.support.processes import process_mesh

pytestmark = [pytest.mark.mysql, pytest.mark.redis]


async def test_separate_processes_call_each_other_over_mesh_tls(
    mysql_core_url: str,  # noqa: F811 - the fixture
    redis_url: str,
    tmp_path: Path,
) -> None:
    created: list[tenant_pb2.Tenant] = []
    async with process_mesh(
        mysql_core_url,
        redis_url,
        tmp_path / "mesh",
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        mesh_tls=True,
    ) as mesh:
        tenants = await mesh.start("tenants")
        auth = await mesh.start("auth")
        try:
            login = await auth_service_pb2_grpc.AuthServiceStub(auth.channel).Login(
                auth_service_pb2.LoginRequest(tenant="platform", email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
            )
            tenant = (
                await tenant_service_pb2_grpc.TenantServiceStub(tenants.channel).CreateTenant(
                    tenant_service_pb2.CreateTenantRequest(
                        tenant=tenant_pb2.Tenant(slug=f"mt-{uuid.uuid4().hex[:10]}")
                    ),
                    metadata=bearer(login.tokens.access_token),
                )
            ).tenant
            created.append(tenant)
            assert tenant.state == tenant_pb2.TENANT_STATE_ACTIVE
            # A direct port takes no plaintext caller.
            async with grpc.aio.insecure_channel(auth.address) as plaintext:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await auth_service_pb2_grpc.AuthServiceStub(plaintext).GetJwks(
                        auth_service_pb2.GetJwksRequest(), timeout=5
                    )
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await drop_tenant_databases(mysql_core_url, created)
