"""The menus service on the real platform, in-process: tenants, auth, registry and menus with token
authentication, real servers, real interceptors, a real database; callers log in as real users."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantmesh.auth.v1 import admin_service_pb2, user_pb2
from tenantmesh.forms.v1 import form_service_pb2 as forms_pb
from tenantmesh.forms.v1 import form_service_pb2_grpc as forms_grpc
from tenantmesh.menus.v1 import menu_pb2
from tenantmesh.menus.v1 import menu_service_pb2 as pb
from tenantmesh.menus.v1 import menu_service_pb2_grpc as pb_grpc
from tenantmesh.registry.v1 import registry_service_pb2 as registry_pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as registry_grpc
from tenantmesh.registry.v1 import service_pb2

from services.menus.app import MenusApp
from services.runtime.db import TenantDatabase, tenant_database_name
from tests.support.forms import definition, sample_definition
from tests.support.platform import Platform, bearer, platform
from tests.support.registry import FAST_REGISTRY, eventually
from tests.support.stubs import BoundStub

PASSWORD = "menus-user-password-1"


@dataclass
class Person:
    user_id: str
    email: str
    token: str
    refresh_token: str = ""


@dataclass
class MenusWorld:
    mesh: Platform
    backend: str
    slugs: list[str] = field(default_factory=list)
    _admin_token: str = ""

    @property
    def app(self) -> MenusApp:
        found = next(s.app for s in self.mesh.started if isinstance(s.app, MenusApp))
        assert isinstance(found, MenusApp)
        return found

    async def admin_token(self) -> str:
        if not self._admin_token:
            self._admin_token = await self.mesh.admin_token()
        return self._admin_token

    def forget_admin_token(self) -> None:
        """The next admin_token() logs in again (tokens live 15 minutes)."""
        self._admin_token = ""

    async def new_tenant(self, stem: str = "menu") -> str:
        slug = f"{stem}-{uuid.uuid4().hex[:10]}"
        self.slugs.append(slug)
        return (await self.mesh.create_tenant(slug)).tenant_id

    async def person(self, tenant_id: str, *roles: str) -> Person:
        """A new user of ``tenant_id`` holding ``roles``, logged in there."""
        email = f"{'-'.join(roles) or 'none'}-{uuid.uuid4().hex[:10]}@example.test"
        created = await self.mesh.admin_stub("UserService").CreateUser(
            admin_service_pb2.CreateUserRequest(user=user_pb2.User(email=email), password=PASSWORD, roles=list(roles)),
            metadata=(*bearer(await self.admin_token()), ("x-tenant-id", tenant_id)),
        )
        tokens = await self.mesh.login(tenant_id, email, PASSWORD)
        return Person(created.user.user_id, email, tokens.access_token, tokens.refresh_token)

    async def login_again(self, tenant_id: str, person: Person) -> Person:
        tokens = await self.mesh.login(tenant_id, person.email, PASSWORD)
        return Person(person.user_id, person.email, tokens.access_token)

    def menus(self, token: str, tenant_id: str) -> Any:
        return BoundStub(
            pb_grpc.MenuServiceStub(self.mesh.channel("menus")), (*bearer(token), ("x-tenant-id", tenant_id))
        )

    async def my_menu(self, token: str, tenant_id: str, locale: str = "") -> pb.GetMyMenuResponse:
        response: pb.GetMyMenuResponse = await self.menus(token, tenant_id).GetMyMenu(
            pb.GetMyMenuRequest(locale=locale)
        )
        return response

    async def register(self, service: service_pb2.Service) -> None:
        catalog = registry_grpc.CatalogServiceStub(self.mesh.channel("registry"))
        await catalog.RegisterService(
            registry_pb.RegisterServiceRequest(service=service), metadata=bearer(await self.admin_token())
        )

    def enabled(self, tenant_id: str, token: str | None = None) -> Any:
        return BoundStub(
            registry_grpc.EnabledServiceServiceStub(self.mesh.channel("registry")),
            (*bearer(token or self._admin_token), ("x-tenant-id", tenant_id)),
        )

    async def enable(self, tenant_id: str, service: str) -> None:
        await self.admin_token()
        await self.enabled(tenant_id).EnableService(registry_pb.EnableServiceRequest(service=service))

    def _forms(self, token: str, tenant_id: str) -> Any:
        return BoundStub(
            forms_grpc.FormServiceStub(self.mesh.channel("forms")), (*bearer(token), ("x-tenant-id", tenant_id))
        )

    async def publish_form(self, token: str, tenant_id: str, key: str, title: str) -> None:
        """A form of the tenant, created and published by ``token``'s holder."""
        forms = self._forms(token, tenant_id)
        draft = definition({**sample_definition(), "title": {"en": title, "id": f"{title} (id)"}})
        await forms.CreateForm(forms_pb.CreateFormRequest(form=forms_pb.Form(key=key, title=title, draft=draft)))
        await forms.PublishForm(forms_pb.PublishFormRequest(key=key))

    async def archive_form(self, token: str, tenant_id: str, key: str) -> None:
        await self._forms(token, tenant_id).ArchiveForm(forms_pb.ArchiveFormRequest(key=key))

    async def unarchive_form(self, token: str, tenant_id: str, key: str) -> None:
        await self._forms(token, tenant_id).UnarchiveForm(forms_pb.UnarchiveFormRequest(key=key))

    async def delete_form(self, token: str, tenant_id: str, key: str) -> None:
        await self._forms(token, tenant_id).DeleteForm(forms_pb.DeleteFormRequest(key=key))

    async def drop_leftovers(self) -> None:
        if self.backend != "mysql":
            return
        for slug in self.slugs:
            await self.mesh.runtime.db.drop_tenant_database(
                TenantDatabase("default", tenant_database_name(slug, self.mesh.runtime.db.tenant_db_prefix))
            )


async def menu_within(
    world: MenusWorld, token: str, tenant_id: str, holds: Callable[[list[str]], bool], within: float = 1.0
) -> list[str]:
    """The keys of the caller's menu once ``holds(keys)``; fails unless that happens within ``within``
    seconds (changes reach menus by events, relayed after their commit)."""
    found: list[str] = []

    async def current() -> bool:
        found[:] = keys((await world.my_menu(token, tenant_id)).items)
        return holds(found)

    await eventually(current, within)
    return found


# What every member sees in a fresh tenant: the forms section with their own submissions.
MEMBER_BASICS = ["platform/forms", "platform/submissions"]


def keys(items: Any) -> list[str]:
    """Every key of a menu, depth first."""
    found: list[str] = []
    for item in items:
        found.append(item.key)
        found.extend(keys(item.children))
    return found


def find(items: Any, key: str) -> menu_pb2.MenuItem | None:
    for item in items:
        if item.key == key:
            return item  # type: ignore[no-any-return]
        if (inside := find(item.children, key)) is not None:
            return inside
    return None


def contributed_service(name: str, **fields: Any) -> service_pb2.Service:
    """An EXTERNAL_HTTP service contributing a section-like parent, an entry every member sees and
    one that needs the service's permission."""
    values: dict[str, Any] = {
        "name": name,
        "kind": service_pb2.SERVICE_KIND_EXTERNAL_HTTP,
        "display_name": name.title(),
        "permissions": [service_pb2.PermissionDefinition(name=f"{name}.reports.read")],
        "menu_entries": [
            service_pb2.MenuEntry(
                id="home", label="Home", route=f"/{name}", order=1, label_translations={"id": "Beranda"}
            ),
            service_pb2.MenuEntry(
                id="reports",
                label="Reports",
                route=f"/{name}/reports",
                order=2,
                parent="home",
                required_permission=f"{name}.reports.read",
                label_translations={"id": "Laporan"},
            ),
        ],
        "versions": [service_pb2.ServiceVersion(version="1.0.0")],
    }
    values.update(fields)
    return service_pb2.Service(**values)


def unique_service(stem: str = "svc") -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def menus_world(
    database_url: str,
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    services: tuple[str, ...] = ("registry", "forms", "menus"),
) -> AsyncIterator[MenusWorld]:
    """The platform with ``services`` besides tenants and auth (by default every one menus asks)."""
    backend = "sqlite" if database_url.startswith("sqlite") else "mysql"
    async with platform(database_url, data_dir, {**FAST_REGISTRY, **(env or {})}, extra=services) as mesh:
        world = MenusWorld(mesh=mesh, backend=backend)
        await world.admin_token()
        try:
            yield world
        finally:
            await world.drop_leftovers()
