from __future__ import annotations

import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.interceptors.validation import violations_of


def _fields(message: object) -> list[str]:
    return [v.field for v in violations_of(message)]


def test_nested_field_path() -> None:
    assert _fields(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="Acme"))) == ["tenant.slug"]


def test_map_key_path() -> None:
    request = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="acme", labels={"A": "x", "ok": "y"}))
    assert _fields(request) == ['tenant.labels["A"]']


def test_map_value_path() -> None:
    request = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="acme", labels={"env": "x" * 64}))
    assert _fields(request) == ['tenant.labels["env"]']


def test_repeated_index_path() -> None:
    assert _fields(pb.ListTenantsRequest(labels=["env=prod", "BAD"])) == ["labels[1]"]
    assert _fields(
        pb.ListTenantsRequest(states=[tenant_pb2.TENANT_STATE_ACTIVE, tenant_pb2.TENANT_STATE_UNSPECIFIED])
    ) == ["states[1]"]


def test_every_violation_is_reported() -> None:
    request = pb.ListTenantsRequest(page_size=-1, labels=["BAD"])
    assert sorted(_fields(request)) == ["labels[0]", "page_size"]
    assert {v.reason for v in violations_of(request)} == {"FIELD_INVALID"}


@pytest.mark.parametrize(
    "slug",
    ["Acme", "ab", "x" * 41, "a';drop database x;--", "acme-", "1acme", "admin", "mysql", "api"],
)
def test_bad_slugs(slug: str) -> None:
    assert _fields(pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug))) == ["tenant.slug"]


def test_valid_requests_have_no_violations() -> None:
    create = pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug="acme-corp", labels={"env": "p"}))
    assert violations_of(create) == []
    mask = field_mask_pb2.FieldMask(paths=["display_name", "labels"])
    assert violations_of(pb.UpdateTenantRequest(tenant=tenant_pb2.Tenant(tenant_id="x"), update_mask=mask)) == []


def test_update_mask_outside_the_allowed_paths() -> None:
    mask = field_mask_pb2.FieldMask(paths=["display_name", "state"])
    assert _fields(pb.UpdateTenantRequest(tenant=tenant_pb2.Tenant(), update_mask=mask)) == ["update_mask"]


def test_required_message_and_oneof() -> None:
    assert _fields(pb.CreateTenantRequest()) == ["tenant"]
    assert _fields(pb.GetTenantRequest()) == ["lookup"]
