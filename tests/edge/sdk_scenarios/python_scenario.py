"""The Python SDK scenario, run by tests/edge/test_sdk_python.py with the installed wheel in a
fresh virtualenv (and checked there by mypy --strict): an API key -> create a tenant -> create
a user -> enable a service -> list with paging -> watch -> a typed error on bad input, with the
sync and the async client. Prints one line per step; exits non-zero on the first surprise.

Usage: python python_scenario.py URL CA_FILE API_KEY
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import grpc
from google.protobuf import struct_pb2
from tenantmesh.auth.v1 import admin_service_pb2, admin_service_pb2_grpc, user_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as registry_pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as registry_grpc
from tenantmesh.registry.v1 import service_pb2
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc
from tenantmesh_sdk import AsyncClient, Client, InvalidArgumentError, NotFoundError, apaginate, paginate


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def sync_scenario(url: str, ca_file: str, api_key: str) -> str:
    mark = uuid.uuid4().hex[:8]
    with Client.from_api_key(url, api_key, ca_file=ca_file) as client:
        tenants = tenant_service_pb2_grpc.TenantServiceStub(client.channel)
        created = tenants.CreateTenant(
            tenant_service_pb2.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=f"sdk-{mark}", display_name="SDK"))
        )
        tenant = created.tenant
        check(tenant.state == tenant_pb2.TENANT_STATE_ACTIVE, "create a tenant (request_id filled in by the SDK)")

        in_tenant = client.for_tenant(tenant.tenant_id)
        users = admin_service_pb2_grpc.UserServiceStub(in_tenant.channel)
        for n in range(3):
            users.CreateUser(
                admin_service_pb2.CreateUserRequest(
                    user=user_pb2.User(email=f"user{n}-{mark}@example.test", display_name=f"User {n}"),
                    password=f"a long passphrase {mark}",
                    roles=["member"],
                )
            )
        check(True, "create users in the new tenant")
        listed = list(paginate(users.ListUsers, admin_service_pb2.ListUsersRequest(page_size=2)))
        check(len(listed) == 3, f"list users two per page: {len(listed)} users over two pages")

        catalog = registry_grpc.CatalogServiceStub(client.channel)
        name = f"billing-{mark}"
        catalog.RegisterService(
            registry_pb.RegisterServiceRequest(
                service=service_pb2.Service(
                    name=name, display_name="Billing", kind=service_pb2.SERVICE_KIND_EXTERNAL_HTTP
                )
            )
        )
        enabled = registry_grpc.EnabledServiceServiceStub(in_tenant.channel)
        enabled.EnableService(registry_pb.EnableServiceRequest(service=name, config=struct_pb2.Struct()))
        names = [s.service for s in paginate(enabled.ListEnabledServices, registry_pb.ListEnabledServicesRequest())]
        check(names == [name], "enable a service for the tenant")

        watch = registry_grpc.DiscoveryServiceStub(client.channel).Watch(
            registry_pb.WatchRequest(services=[name], send_initial_state=True)
        )
        kinds = []
        for event in watch:
            kinds.append(event.type)
            if event.type == registry_pb.WATCH_EVENT_TYPE_SYNCED:
                break
        watch.cancel()
        check(kinds[-1] == registry_pb.WATCH_EVENT_TYPE_SYNCED and len(kinds) >= 2, "watch the service (stream)")

        try:
            tenants.CreateTenant(tenant_service_pb2.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="Not Valid!")))
        except InvalidArgumentError as error:
            fields = [v.field for v in error.field_violations]
            check(error.code() == grpc.StatusCode.INVALID_ARGUMENT, "bad input raises InvalidArgumentError")
            check(error.reason == "FIELD_INVALID" and error.domain == "tenantmesh.dev", f"reason {error.reason}")
            check("tenant.slug" in fields and bool(error.request_id), f"field violations {fields}, request id")
        else:
            raise SystemExit("FAILED: an invalid slug was accepted")
        return tenant.tenant_id


async def async_scenario(url: str, ca_file: str, api_key: str, tenant_id: str) -> None:
    async with AsyncClient.from_api_key(url, api_key, ca_file=ca_file) as client:
        tenants = tenant_service_pb2_grpc.TenantServiceStub(client.channel)
        fetched = await tenants.GetTenant(tenant_service_pb2.GetTenantRequest(tenant_id=tenant_id))
        check(fetched.tenant.tenant_id == tenant_id, "async: get the tenant")
        seen = [
            t.tenant_id
            async for t in apaginate(tenants.ListTenants, tenant_service_pb2.ListTenantsRequest(page_size=1))
        ]
        check(tenant_id in seen, f"async: list tenants one per page ({len(seen)} tenants)")
        users = admin_service_pb2_grpc.UserServiceStub(client.for_tenant(tenant_id).channel)
        page = await users.ListUsers(admin_service_pb2.ListUsersRequest(page_size=10))
        check(len(page.users) == 3, "async: the tenant's users, through a per-tenant client")
        try:
            await tenants.GetTenant(tenant_service_pb2.GetTenantRequest(tenant_id=str(uuid.uuid4())))
        except NotFoundError as error:
            check(error.reason == "TENANT_NOT_FOUND", "async: a missing tenant raises NotFoundError")
        else:
            raise SystemExit("FAILED: a random tenant id was found")
        migrate = tenants.MigrateTenantDatabases(
            tenant_service_pb2.MigrateTenantDatabasesRequest(tenant_ids=[tenant_id])
        )
        progress = [message.tenant_id async for message in migrate]
        check(progress == [tenant_id], "async: a server stream as an async iterator")


def main() -> None:
    url, ca_file, api_key = sys.argv[1:4]
    tenant_id = sync_scenario(url, ca_file, api_key)
    asyncio.run(async_scenario(url, ca_file, api_key, tenant_id))
    print("scenario passed")


if __name__ == "__main__":
    main()
