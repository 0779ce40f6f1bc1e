"""Fresh menus across processes: two menus replicas on one database and one Redis, as in production.
Every kind of change that affects a menu, made through the first platform, is reflected by the other
replica's GetMyMenu within a second, although that replica had the old menu cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.auth.v1 import admin_service_pb2, user_pb2
from tenantmesh.menus.v1 import menu_pb2
from tenantmesh.menus.v1 import menu_service_pb2 as pb
from tenantmesh.menus.v1 import menu_service_pb2_grpc as pb_grpc
from tenantmesh.registry.v1 import registry_service_pb2 as registry_pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as registry_grpc
from tenantmesh.registry.v1 import service_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2

from services.menus.app import MenusApp
from services.runtime.app import Runtime, start_app, stop_apps
from tests.support.menus import contributed_service, keys, menus_world, unique_service
from tests.support.mesh import mesh_settings
from tests.support.platform import bearer
from tests.support.registry import FAST_REGISTRY, eventually

WITHIN = 1.0


class Replica:
    """The second menus process's view for one caller."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub: Any = pb_grpc.MenuServiceStub(channel)

    async def menu(self, token: str, tenant_id: str) -> list[str]:
        response = await self._stub.GetMyMenu(
            pb.GetMyMenuRequest(), metadata=(*bearer(token), ("x-tenant-id", tenant_id))
        )
        return keys(response.items)

    async def within(self, token: str, tenant_id: str, holds: Any) -> list[str]:
        found: list[str] = []

        async def current() -> bool:
            found[:] = await self.menu(token, tenant_id)
            return bool(holds(found))

        await eventually(current, WITHIN)
        return found


@pytest.mark.timeout(300)
async def test_every_change_reaches_the_other_replica_within_a_second(
    db_backend_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with menus_world(db_backend_url, tmp_path, {"REDIS_URL": redis_url}) as world:
        runtime = world.mesh.runtime
        settings = mesh_settings(
            db_backend_url,
            tmp_path,  # the same data directory: on SQLite, tenant databases are files in it
            **FAST_REGISTRY,
            REDIS_URL=redis_url,
            TENANTMESH_TENANTS_ADDR=runtime.addresses["tenants"],
            TENANTMESH_AUTH_ADDR=runtime.addresses["auth"],
            TENANTMESH_REGISTRY_ADDR=runtime.addresses["registry"],
            TENANTMESH_FORMS_ADDR=runtime.addresses["forms"],
            TENANTMESH_SERVICE_API_KEY=runtime.service_api_key or "",
        )
        other = await Runtime.open(settings)
        started = [await start_app(MenusApp(other), other, "127.0.0.1:0")]
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{started[0].server.port}")
        try:
            replica = Replica(channel)
            admin_token = await world.admin_token()
            tenant = await world.new_tenant()
            admin = await world.person(tenant, "tenant-admin")
            name = unique_service("fresh")
            home = f"service/{name}/home"
            await world.register(contributed_service(name))
            assert home not in await replica.menu(admin.token, tenant)  # cached now

            # A service enabled, updated (its entries), disabled.
            await world.enable(tenant, name)
            await replica.within(admin.token, tenant, lambda found: home in found)
            catalog: Any = registry_grpc.CatalogServiceStub(world.mesh.channel("registry"))
            moved = contributed_service(
                name, menu_entries=[service_pb2.MenuEntry(id="start", label="Start", route="/s")]
            )
            await catalog.UpdateService(
                registry_pb.UpdateServiceRequest(
                    service=moved, update_mask=field_mask_pb2.FieldMask(paths=["menu_entries"])
                ),
                metadata=bearer(admin_token),
            )
            await replica.within(
                admin.token, tenant, lambda found: f"service/{name}/start" in found and home not in found
            )
            await world.enabled(tenant).DisableService(registry_pb.DisableServiceRequest(service=name))
            await replica.within(admin.token, tenant, lambda found: not any(k.startswith("service/") for k in found))

            # An override, set through the first replica.
            menus = world.menus(admin.token, tenant)
            await menus.SetMenuOverride(
                pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key="platform/users", hidden=True))
            )
            await replica.within(admin.token, tenant, lambda found: "platform/users" not in found)

            # A form published, archived, taken back in use, deleted.
            await world.publish_form(admin.token, tenant, "expenses", "Expenses")
            await replica.within(admin.token, tenant, lambda found: "form/expenses" in found)
            await world.archive_form(admin.token, tenant, "expenses")
            await replica.within(admin.token, tenant, lambda found: "form/expenses" not in found)
            await world.unarchive_form(admin.token, tenant, "expenses")
            await replica.within(admin.token, tenant, lambda found: "form/expenses" in found)
            await world.delete_form(admin.token, tenant, "expenses")
            await replica.within(admin.token, tenant, lambda found: "form/expenses" not in found)

            # A role taken away: the member's menu loses the entry within a second, without waiting for a
            # token to expire: the old token is refused.
            roles = world.mesh.admin_stub("RoleService")
            scoped = (*bearer(admin_token), ("x-tenant-id", tenant))
            await roles.CreateRole(
                admin_service_pb2.CreateRoleRequest(
                    role=user_pb2.Role(name="auditor", permissions=["auth.audit.list", "menus.my_menu.get"])
                ),
                metadata=scoped,
            )
            auditor = await world.person(tenant, "auditor")
            assert "platform/audit" in await replica.menu(auditor.token, tenant)
            memberships = world.mesh.admin_stub("MembershipService")
            await memberships.UpdateMembership(
                admin_service_pb2.UpdateMembershipRequest(
                    membership=user_pb2.Membership(user_id=auditor.user_id, roles=["member"])
                ),
                metadata=scoped,
            )

            async def refused() -> bool:
                try:
                    await replica.menu(auditor.token, tenant)
                except grpc.aio.AioRpcError as error:
                    return error.code() == grpc.StatusCode.UNAUTHENTICATED
                return False

            await eventually(refused, WITHIN)

            # Membership changes end the member's sessions (auth's rule); signed in again, the member's
            # menu is the new one at once. (Tokens issued within the cut-off's second are refused too.)
            async def signed_in_again() -> bool:
                try:
                    fresh = await world.login_again(tenant, auditor)
                    return "platform/audit" not in await replica.menu(fresh.token, tenant)
                except grpc.aio.AioRpcError:
                    return False

            await eventually(signed_in_again, 3.0)

            # The tenant suspended: its menus are refused everywhere.
            tenants: Any = world.mesh.tenants
            await tenants.SuspendTenant(
                tenant_service_pb2.SuspendTenantRequest(tenant_id=tenant), metadata=bearer(admin_token)
            )

            async def suspended() -> bool:
                try:
                    await replica.menu(admin.token, tenant)
                except grpc.aio.AioRpcError as error:
                    return error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAUTHENTICATED)
                return False

            await eventually(suspended, WITHIN)
        finally:
            await channel.close()
            await stop_apps(started, 0.5)
            await other.close()
