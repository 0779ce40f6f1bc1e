"""The service manifest (services/runtime/manifest.py, services/manifest.py) and the binding helper."""

from __future__ import annotations

import pytest
from tenantmesh.meta.v1 import meta_service_pb2_grpc

from services.manifest import PLATFORM
from services.runtime.config import load_settings
from services.runtime.manifest import Manifest, ServiceSpec, package_services
from services.runtime.meta import MetaServicer
from services.runtime.server import bind
from services.tenants.app import TenantsApp


def test_the_platform_in_start_order() -> None:
    assert PLATFORM.names == ("tenants", "auth", "registry", "forms", "menus", "webhooks", "ratelimit")
    assert [s.name for s in PLATFORM.built] == [
        "tenants",
        "auth",
        "registry",
        "forms",
        "menus",
        "webhooks",
        "ratelimit",
    ]
    assert PLATFORM.tenant_scoped == ("tenants", "forms", "menus")
    assert PLATFORM.get("tenants").load_app() is TenantsApp
    assert PLATFORM.owner_of("tenantmesh.auth.v1") is PLATFORM.get("auth")
    assert PLATFORM.owner_of("tenantmesh.lifecycle.v1") is None


def test_public_apis_are_every_service_of_their_packages() -> None:
    assert package_services("tenantmesh.auth.v1") == (
        "tenantmesh.auth.v1.AuditService",
        "tenantmesh.auth.v1.AuthService",
        "tenantmesh.auth.v1.InvitationService",
        "tenantmesh.auth.v1.MembershipService",
        "tenantmesh.auth.v1.MfaPolicyService",
        "tenantmesh.auth.v1.MfaService",
        "tenantmesh.auth.v1.RoleService",
        "tenantmesh.auth.v1.ServiceAccountService",
        "tenantmesh.auth.v1.SigningKeyService",
        "tenantmesh.auth.v1.UserService",
    )
    services = PLATFORM.api_services()
    assert "tenantmesh.tenants.v1.TenantService" in services
    assert "tenantmesh.registry.v1.EnabledServiceService" in services
    assert not [s for s in services if "lifecycle" in s or "meta" in s]


def test_settings_follow_the_manifest() -> None:
    notes = ServiceSpec("notes", 50090, "tests.sample.app:NotesApp", tenant_scoped=True)
    settings = load_settings({}, manifest=PLATFORM.with_services(notes))
    assert settings.service_addresses["notes"] == "127.0.0.1:50090"
    assert settings.lifecycle_services == ("tenants", "forms", "menus", "notes")
    assert load_settings({"TENANTMESH_NOTES_ADDR": "notes:7000"}, manifest=settings.manifest).port_of("notes") == 7000


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (lambda: ServiceSpec("Bad-Name", 1), "service name"),
        (lambda: ServiceSpec("notes", 70000), "not a TCP port"),
        (lambda: ServiceSpec("notes", 1, "no-colon"), "module:Class"),
        (lambda: ServiceSpec("notes", 1, api=("a.v1",)), "serves nothing"),
        (lambda: PLATFORM.with_services(ServiceSpec("tenants", 1)), "names must be unique"),
        (lambda: PLATFORM.with_services(ServiceSpec("notes", 50051)), "ports must be unique"),
        (
            lambda: Manifest((ServiceSpec("aa", 1, "m:A", api=("p.v1",)), ServiceSpec("bb", 2, "m:B", api=("p.v1",)))),
            "one service",
        ),
    ],
)
def test_mistakes_in_the_manifest_are_refused(spec: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        spec()  # type: ignore[operator]


def test_an_unbuilt_service_has_no_app() -> None:
    reserved = PLATFORM.with_services(ServiceSpec("notes", 50090))
    with pytest.raises(LookupError, match="not built"):
        reserved.get("notes").load_app()


def test_bind_finds_the_generated_servicer_class() -> None:
    binding = bind(MetaServicer("1.0", []))
    assert binding.service_name == "tenantmesh.meta.v1.MetaService"
    assert isinstance(MetaServicer("1.0", []), meta_service_pb2_grpc.MetaServiceServicer)
    with pytest.raises(TypeError, match="generated servicer"):
        bind(object())
