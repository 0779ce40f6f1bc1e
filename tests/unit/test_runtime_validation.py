from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.forms.v1 import form_service_pb2 as forms_pb
from tenantmesh.registry.v1 import service_pb2 as registry_pb2
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.interceptors.validation import lower_uuids, violations_of
from services.runtime.json_documents import struct_to_dict
from services.runtime.nesting import MAX_VALUE_DEPTH, too_deep


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


def test_free_form_values_are_left_out_of_the_rules_walk_only() -> None:
    """Answers (a Struct no rule reads) do not change what is reported, and stay in the request."""
    answers = {f"q{i}": i for i in range(30)} | {"deep": {"list": [1, "x", None, {"y": True}]}}
    request = forms_pb.ValidateSubmissionRequest(form_key="Bad Key", version=-1, locale="x y")
    request.answers.update(answers)
    assert sorted(_fields(request)) == ["form_key", "locale", "version"]
    assert violations_of(forms_pb.SubmitFormRequest(form_key="ok", request_id="nope", answers=request.answers)) != []
    assert _fields(forms_pb.SubmitFormRequest(form_key="ok", answers=request.answers)) == []
    assert struct_to_dict(request.answers, "answers") == answers


def test_free_form_values_with_rules_of_their_own_are_still_checked() -> None:
    assert _fields(registry_pb2.FormContribution(id="intake", title="Intake")) == ["schema"]
    contribution = registry_pb2.FormContribution(id="intake", title="Intake")
    contribution.schema.update({"type": "object"})
    assert _fields(contribution) == []


def _nested(depth: int, container: str) -> dict[str, Any]:
    value: Any = None
    for level in range(depth):
        value = {"a": value, "b": 1} if container == "object" or level % 2 else [1, value]
    return value if isinstance(value, dict) else {"top": value}


@pytest.mark.parametrize("container", ["object", "mixed"])
def test_depth_limit_counts_objects_and_arrays(container: str) -> None:
    at_limit = forms_pb.ValidateSubmissionRequest(form_key="ok")
    at_limit.answers.update(_nested(MAX_VALUE_DEPTH, container))
    assert too_deep(at_limit) == []
    beyond = forms_pb.ValidateSubmissionRequest(form_key="ok")
    beyond.answers.update(_nested(MAX_VALUE_DEPTH + 1, container))
    assert [v.field for v in too_deep(beyond)] == ["answers"]


def test_a_valid_requests_uuids_are_written_in_lower_case_wherever_they_are() -> None:
    upper = "0190C2A4-0000-7000-8000-00000000ABCD"
    request = pb.GetTenantRequest(tenant_id=upper)
    assert _fields(request) == []  # the uuid rule takes either case
    lower_uuids(request)
    assert request.tenant_id == upper.lower()
    # In messages the request holds, and in repeated fields; other strings are left as sent.
    review = forms_pb.ReviewSubmissionRequest()
    review.submission.submission_id = upper
    lower_uuids(review)
    assert review.submission.submission_id == upper.lower()
    migration = pb.MigrateTenantDatabasesRequest(tenant_ids=[upper, upper.lower()])
    lower_uuids(migration)
    assert list(migration.tenant_ids) == [upper.lower()] * 2
    listing = forms_pb.ListSubmissionsRequest(form_key="Intake", submitter="user:" + upper)
    lower_uuids(listing)
    assert (listing.form_key, listing.submitter) == ("Intake", "user:" + upper)
