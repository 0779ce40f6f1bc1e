"""The service catalogue over gRPC on the real platform: register, read, update,
delete, versions and contracts, and every bad input with its code and reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, field_mask_pb2
from tenantmesh.registry.v1 import instance_pb2, service_pb2
from tenantmesh.registry.v1 import registry_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as pb_grpc

from tests.support.errors import error_info, expect_error, violation_fields, violations
from tests.support.registry import (
    RegistryWorld,
    descriptor_set,
    http_service,
    message,
    registry_world,
    struct,
    unique_name,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
F = descriptor_pb2.FieldDescriptorProto


@pytest.fixture
async def world(db_backend_url: str, tmp_path: Path) -> AsyncIterator[RegistryWorld]:
    async with registry_world(db_backend_url, tmp_path) as started:
        yield started


def grpc_service(name: str, contract: bytes, version: str = "1.0.0") -> service_pb2.Service:
    return service_pb2.Service(
        name=name,
        kind=service_pb2.SERVICE_KIND_INTERNAL_GRPC,
        versions=[service_pb2.ServiceVersion(version=version, descriptor_set=contract)],
    )


V1 = descriptor_set(
    message("Invoice", id=(1, F.TYPE_STRING), total=(2, F.TYPE_INT64), note=(3, F.TYPE_STRING)),
    message("GetInvoiceRequest", id=(1, F.TYPE_STRING)),
    rpcs={"GetInvoice": ("GetInvoiceRequest", "Invoice"), "ListInvoices": ("GetInvoiceRequest", "Invoice")},
)


async def test_register_get_list_update_delete(world: RegistryWorld) -> None:
    admin = await world.admin()
    name = unique_name()
    schema = {"type": "object", "properties": {"region": {"type": "string"}}}
    registered = await world.register(
        http_service(name, tags=["billing", "eu"], owner="team-billing", config_schema=struct(schema))
    )
    assert registered.display_name == name.title()
    assert registered.kind == service_pb2.SERVICE_KIND_EXTERNAL_HTTP
    assert [v.version for v in registered.versions] == ["1.0.0"]
    assert registered.etag == "1"

    got = (await admin.catalog.GetService(pb.GetServiceRequest(name=name))).service
    assert got == registered
    assert dict(got.config_schema)["type"] == "object"

    other = await world.register(http_service(unique_name("other"), tags=["billing"]))
    listed = await admin.catalog.ListServices(pb.ListServicesRequest(tags=["billing", "eu"]))
    assert [s.name for s in listed.services] == [name]
    by_kind = await admin.catalog.ListServices(pb.ListServicesRequest(kind=service_pb2.SERVICE_KIND_INTERNAL_GRPC))
    assert by_kind.services == []
    first = await admin.catalog.ListServices(pb.ListServicesRequest(page_size=1, tags=["billing"]))
    second = await admin.catalog.ListServices(
        pb.ListServicesRequest(page_size=1, tags=["billing"], page_token=first.next_page_token)
    )
    assert {first.services[0].name, second.services[0].name} == {name, other.name}
    assert second.next_page_token == ""

    updated = (
        await admin.catalog.UpdateService(
            pb.UpdateServiceRequest(
                service=service_pb2.Service(name=name, description="Invoices", tags=["finance"], etag=got.etag),
                update_mask=field_mask_pb2.FieldMask(paths=["description", "tags"]),
            )
        )
    ).service
    assert (updated.description, list(updated.tags), updated.etag) == ("Invoices", ["finance"], "2")
    assert updated.owner == "team-billing"  # not in the mask
    await expect_error(
        admin.catalog.UpdateService(
            pb.UpdateServiceRequest(
                service=service_pb2.Service(name=name, owner="x", etag=got.etag),
                update_mask=field_mask_pb2.FieldMask(paths=["owner"]),
            )
        ),
        grpc.StatusCode.ABORTED,
        "ETAG_MISMATCH",
    )

    await admin.catalog.DeleteService(pb.DeleteServiceRequest(name=name, etag=updated.etag))
    await expect_error(
        admin.catalog.GetService(pb.GetServiceRequest(name=name)), grpc.StatusCode.NOT_FOUND, "SERVICE_NOT_FOUND"
    )


async def test_invalid_json_schema_reports_every_problem_with_its_path(world: RegistryWorld) -> None:
    schema = {
        "type": "objekt",
        "properties": {"size": {"type": "integer", "minimum": "one"}, "code": {"pattern": "(["}},
        "required": "size",
    }
    form = service_pb2.FormContribution(id="signup", title="Sign up", schema=struct({"type": 7}))
    error = await expect_error(
        world.register(http_service(unique_name(), config_schema=struct(schema), forms=[form])),
        INVALID,
        "SCHEMA_INVALID",
    )
    assert violation_fields(error) == {
        "service.config_schema.type",
        "service.config_schema.properties.size.minimum",
        "service.config_schema.properties.code.pattern",
        "service.config_schema.required",
        "service.forms[0].schema.type",
    }
    assert {v.reason for v in violations(error)} == {"SCHEMA_INVALID"}


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"$ref": "https://example.test/schema.json"}, 'service.config_schema["$ref"]'),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, 'service.config_schema.properties.a["$ref"]'),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, 'service.config_schema["$schema"]'),
    ],
)
async def test_schemas_must_be_2020_12_and_self_contained(
    world: RegistryWorld, schema: dict[str, Any], field: str
) -> None:
    error = await expect_error(
        world.register(http_service(unique_name(), config_schema=struct(schema))), INVALID, "SCHEMA_INVALID"
    )
    assert violation_fields(error) == {field}


async def test_definition_problems_are_reported_together(world: RegistryWorld) -> None:
    name = unique_name()
    service = service_pb2.Service(
        name=name,
        kind=service_pb2.SERVICE_KIND_EXTERNAL_HTTP,
        permissions=[
            service_pb2.PermissionDefinition(name=f"{name}.things.read"),
            service_pb2.PermissionDefinition(name="auth.users.create"),
        ],
        menu_entries=[
            service_pb2.MenuEntry(id="a", label="A", required_permission=f"{name}.things.write"),
            service_pb2.MenuEntry(id="b", label="B", parent="nowhere"),
            service_pb2.MenuEntry(id="c", label="C", parent="d"),
            service_pb2.MenuEntry(id="d", label="D", parent="c"),
        ],
        versions=[service_pb2.ServiceVersion(version="1.0.0", descriptor_set=V1)],
    )
    error = await expect_error(world.register(service), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {
        "service.permissions[1].name",
        "service.menu_entries[0].required_permission",
        "service.menu_entries[1].parent",
        "service.menu_entries[2].parent",
        "service.menu_entries[3].parent",
        "service.versions[0].descriptor_set",
    }
    # And what protovalidate refuses on its own, before the handler runs.
    error = await expect_error(
        world.register(service_pb2.Service(name="Not_DNS", versions=[service_pb2.ServiceVersion(version="v1")])),
        INVALID,
        "FIELD_INVALID",
    )
    assert violation_fields(error) == {"service.name", "service.versions[0].version"}
    error = await expect_error(world.register(service_pb2.Service(name=unique_name())), INVALID, "FIELD_INVALID")
    assert violation_fields(error) == {"service.kind"}


async def test_duplicate_name_and_idempotent_retry(world: RegistryWorld) -> None:
    name = unique_name()
    request_id = str(uuid.uuid4())
    first = await world.register(http_service(name), request_id=request_id)
    assert await world.register(http_service(name), request_id=request_id) == first
    error = await expect_error(world.register(http_service(name)), grpc.StatusCode.ALREADY_EXISTS, "SERVICE_NAME_TAKEN")
    assert error_info(error).metadata["service"] == name


async def test_unknown_service_is_not_found_everywhere(world: RegistryWorld) -> None:
    admin = await world.admin()
    name = unique_name("ghost")
    for call in (
        admin.catalog.GetService(pb.GetServiceRequest(name=name)),
        admin.catalog.DeleteService(pb.DeleteServiceRequest(name=name)),
        admin.catalog.UpdateService(
            pb.UpdateServiceRequest(
                service=service_pb2.Service(name=name), update_mask=field_mask_pb2.FieldMask(paths=["owner"])
            )
        ),
        admin.catalog.RegisterServiceVersion(
            pb.RegisterServiceVersionRequest(service=name, version=service_pb2.ServiceVersion(version="1.0.0"))
        ),
        admin.discovery.ResolveService(pb.ResolveServiceRequest(service=name)),
        admin.instances.RegisterInstance(
            pb.RegisterInstanceRequest(
                service=name, instance=instance_pb2.Instance(version="1.0.0", address="https://x.example.test")
            )
        ),
    ):
        await expect_error(call, grpc.StatusCode.NOT_FOUND, "SERVICE_NOT_FOUND")


async def test_breaking_contract_needs_force(world: RegistryWorld) -> None:
    admin = await world.admin()
    name = unique_name()
    await world.register(grpc_service(name, V1))

    compatible = descriptor_set(
        message(
            "Invoice", id=(1, F.TYPE_STRING), total=(2, F.TYPE_INT64), note=(3, F.TYPE_STRING), due=(4, F.TYPE_STRING)
        ),
        message("GetInvoiceRequest", id=(1, F.TYPE_STRING)),
        rpcs={"GetInvoice": ("GetInvoiceRequest", "Invoice"), "ListInvoices": ("GetInvoiceRequest", "Invoice")},
    )
    added = await admin.catalog.RegisterServiceVersion(
        pb.RegisterServiceVersionRequest(
            service=name, version=service_pb2.ServiceVersion(version="1.1.0", descriptor_set=compatible)
        )
    )
    assert [v.version for v in added.service.versions] == ["1.0.0", "1.1.0"]
    assert list(added.forced_breaks) == []

    breaking = descriptor_set(
        message("Invoice", id=(1, F.TYPE_STRING), total=(2, F.TYPE_STRING), due=(4, F.TYPE_STRING)),
        message("GetInvoiceRequest", id=(1, F.TYPE_STRING)),
        rpcs={"GetInvoice": ("GetInvoiceRequest", "Invoice")},
    )
    request = pb.RegisterServiceVersionRequest(
        service=name, version=service_pb2.ServiceVersion(version="1.2.0", descriptor_set=breaking)
    )
    error = await expect_error(
        admin.catalog.RegisterServiceVersion(request), grpc.StatusCode.FAILED_PRECONDITION, "CONTRACT_BREAKING"
    )
    info = error_info(error)
    assert info.metadata["previous_version"] == "1.1.0"
    assert info.metadata["break_count"] == "3"
    assert "FIELD_TYPE_CHANGED acme.v1.Invoice.total" in info.metadata["breaks"]
    assert "FIELD_REMOVED acme.v1.Invoice.note" in info.metadata["breaks"]
    assert "RPC_REMOVED acme.v1.Api.ListInvoices" in info.metadata["breaks"]
    got = (await admin.catalog.GetService(pb.GetServiceRequest(name=name))).service
    assert [v.version for v in got.versions] == ["1.0.0", "1.1.0"]

    request.force = True
    forced = await admin.catalog.RegisterServiceVersion(request)
    assert {b.kind for b in forced.forced_breaks} == {"FIELD_TYPE_CHANGED", "FIELD_REMOVED", "RPC_REMOVED"}
    assert [v.version for v in forced.service.versions] == ["1.0.0", "1.1.0", "1.2.0"]

    # The same version again: unchanged if identical, refused if not.
    again = await admin.catalog.RegisterServiceVersion(request)
    assert [v.version for v in again.service.versions] == ["1.0.0", "1.1.0", "1.2.0"]
    request.version.descriptor_set = V1
    await expect_error(
        admin.catalog.RegisterServiceVersion(request), grpc.StatusCode.ALREADY_EXISTS, "SERVICE_VERSION_EXISTS"
    )


async def test_contracts_must_fit_the_kind(world: RegistryWorld) -> None:
    admin = await world.admin()
    name = unique_name()
    await world.register(http_service(name))
    openapi = {"openapi": "3.1.0", "info": {"title": "Things", "version": "2.0.0"}, "paths": {}}
    added = await admin.catalog.RegisterServiceVersion(
        pb.RegisterServiceVersionRequest(
            service=name, version=service_pb2.ServiceVersion(version="2.0.0", openapi=struct(openapi))
        )
    )
    assert added.service.versions[-1].openapi["openapi"] == "3.1.0"
    basic = await admin.catalog.ListServices(pb.ListServicesRequest())
    [listed] = [s for s in basic.services if s.name == name]
    assert listed.versions[-1].contract_format == service_pb2.CONTRACT_FORMAT_OPENAPI
    assert not listed.versions[-1].HasField("openapi")  # lists leave contracts out
    error = await expect_error(
        admin.catalog.RegisterServiceVersion(
            pb.RegisterServiceVersionRequest(
                service=name, version=service_pb2.ServiceVersion(version="2.1.0", descriptor_set=V1)
            )
        ),
        INVALID,
        "CONTRACT_INVALID",
    )
    assert violation_fields(error) == {"version.descriptor_set"}
    error = await expect_error(
        admin.catalog.RegisterServiceVersion(
            pb.RegisterServiceVersionRequest(
                service=name, version=service_pb2.ServiceVersion(version="2.1.0", openapi=struct({"swagger": "2.0"}))
            )
        ),
        INVALID,
        "CONTRACT_INVALID",
    )
    assert violation_fields(error) == {"version.openapi"}


async def test_only_platform_administrators_manage_the_catalogue(world: RegistryWorld) -> None:
    tenant_id = await world.new_tenant()
    tenant_admin = world.stubs(await world.tenant_admin_token(tenant_id), tenant_id)
    await expect_error(
        tenant_admin.catalog.RegisterService(pb.RegisterServiceRequest(service=http_service(unique_name()))),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    await expect_error(
        tenant_admin.catalog.ListServices(pb.ListServicesRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    anonymous = pb_grpc.CatalogServiceStub(world.mesh.channel("registry"))
    await expect_error(
        anonymous.ListServices(pb.ListServicesRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
        "CREDENTIALS_MISSING",
    )
