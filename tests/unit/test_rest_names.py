"""Violation paths in JSON names for REST callers, along proto fields only."""

from __future__ import annotations

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor
from tenantmesh.registry.v1 import registry_service_pb2  # noqa: F401 - registers the types
from tenantmesh.tenants.v1 import tenant_service_pb2  # noqa: F401 - registers the types

from services.runtime.rest_names import rest_path


def message(name: str) -> Descriptor:
    found: Descriptor = descriptor_pool.Default().FindMessageTypeByName(name)
    return found


def test_proto_fields_take_their_json_names() -> None:
    request = message("tenantmesh.tenants.v1.UpdateTenantRequest")
    assert rest_path("update_mask", request) == "updateMask"
    assert rest_path("tenant.display_name", request) == "tenant.displayName"


def test_map_keys_and_free_form_values_keep_the_callers_keys() -> None:
    tenant_request = message("tenantmesh.tenants.v1.CreateTenantRequest")
    assert rest_path('tenant.labels["cost_centre"]', tenant_request) == 'tenant.labels["cost_centre"]'
    enable = message("tenantmesh.registry.v1.EnableServiceRequest")
    assert rest_path("config.api_key.inner_value", enable) == "config.api_key.inner_value"
    assert rest_path("request_id", enable) == "requestId"


def test_an_unknown_path_is_left_alone() -> None:
    assert rest_path("no_such_field.x_y", message("tenantmesh.tenants.v1.GetTenantRequest")) == "no_such_field.x_y"
    assert rest_path("page_size", None) == "page_size"
