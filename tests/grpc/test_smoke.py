from __future__ import annotations

from pathlib import Path

from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2 as pb

from tests.support.mesh import tenants_service


async def test_create_get_list(db_backend_url: str, tmp_path: Path) -> None:
    async with tenants_service(db_backend_url, tmp_path) as mesh:
        created = await mesh.tenants.CreateTenant(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="acme-smoke")))
        print(created)
        got = await mesh.tenants.GetTenant(pb.GetTenantRequest(tenant_id=created.tenant.tenant_id))
        assert got.tenant.state == tenant_pb2.TENANT_STATE_ACTIVE
        current = await mesh.tenants.GetCurrentTenant(pb.GetCurrentTenantRequest(), metadata=[("x-tenant-id", got.tenant.tenant_id)])
        print(current)
        deleted = await mesh.tenants.DeleteTenant(pb.DeleteTenantRequest(tenant_id=created.tenant.tenant_id))
        assert deleted.tenant.state == tenant_pb2.TENANT_STATE_DELETED
