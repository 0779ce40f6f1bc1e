from __future__ import annotations

from enum import auto

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from services.runtime.errors import (
    Aborted,
    AlreadyExists,
    CommonReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Reason,
    ResourceExhausted,
    TenantmeshError,
    Unauthenticated,
    Unavailable,
    describe,
)
from services.runtime.rich_status import (
    MAX_TEXT_BYTES,
    MAX_VIOLATION_BYTES,
    STATUS_DETAILS_KEY,
    reason_of,
    to_status_proto,
    trailing_metadata,
    truncated,
)


class SampleReason(Reason):
    LABEL_KEY_INVALID = auto()
    RATE_LIMITED = auto()
    PROVISIONING_FAILED = auto()


def _unpack(status: status_pb2.Status, kind: type[object]) -> list[object]:
    found = []
    for detail in status.details:
        message = kind()
        if detail.Unpack(message):
            found.append(message)
    return found


def test_error_info_has_reason_domain_and_metadata() -> None:
    error = NotFound("no such tenant", reason=CommonReason.TENANT_NOT_FOUND, metadata={"tenant_id": "t-1"})
    status = to_status_proto(describe(error))
    assert status.code == code_pb2.NOT_FOUND
    assert status.message == "no such tenant"
    [info] = _unpack(status, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.domain == "tenantmesh.dev"
    assert info.reason == "TENANT_NOT_FOUND"
    assert dict(info.metadata) == {"tenant_id": "t-1"}
    assert _unpack(status, error_details_pb2.BadRequest) == []
    assert _unpack(status, error_details_pb2.RetryInfo) == []


def test_bad_request_lists_every_violation() -> None:
    error = InvalidArgument(
        "bad",
        violations=[
            FieldViolation("tenant.slug", "does not match"),
            FieldViolation('tenant.labels["A"]', "bad key", reason=SampleReason.LABEL_KEY_INVALID),
        ],
    )
    status = to_status_proto(describe(error))
    assert status.code == code_pb2.INVALID_ARGUMENT
    [bad_request] = _unpack(status, error_details_pb2.BadRequest)
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    assert [(v.field, v.reason) for v in bad_request.field_violations] == [
        ("tenant.slug", "FIELD_INVALID"),
        ('tenant.labels["A"]', "LABEL_KEY_INVALID"),
    ]
    [info] = _unpack(status, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "FIELD_INVALID"


def test_retry_info_carries_the_delay() -> None:
    status = to_status_proto(
        describe(ResourceExhausted("slow down", retry_after=1.5, reason=SampleReason.RATE_LIMITED))
    )
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    [retry] = _unpack(status, error_details_pb2.RetryInfo)
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToMilliseconds() == 1500


def test_trailer_is_the_serialized_status() -> None:
    error = describe(Aborted("changed"))
    [(key, value)] = trailing_metadata(error)
    assert key == STATUS_DETAILS_KEY == "grpc-status-details-bin"
    assert status_pb2.Status.FromString(value) == to_status_proto(error)


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
        (NotFound("x"), grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
        (AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
        (FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
        (Aborted("x"), grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
        (Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
        (PermissionDenied("x"), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
        (ResourceExhausted("x"), grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"),
        (Unavailable("x"), grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE"),
        (TenantmeshError("x"), grpc.StatusCode.INTERNAL, "INTERNAL"),
    ],
)
def test_each_error_type_maps_to_its_code(error: TenantmeshError, code: grpc.StatusCode, reason: str) -> None:
    described = describe(error)
    assert (described.code, described.reason) == (code, reason)
    assert to_status_proto(described).code == code.value[0]


def test_reason_of_domain_error_and_unknown_exception() -> None:
    assert reason_of(Unavailable("x", reason=SampleReason.PROVISIONING_FAILED)) == "PROVISIONING_FAILED"
    assert reason_of(RuntimeError("boom")) == "INTERNAL"


def test_many_violations_are_cut_to_what_a_trailer_can_carry_and_the_rest_counted() -> None:
    # gRPC clients refuse received metadata past 8 KiB by default; the trailer is sent base64-encoded.
    violations = [FieldViolation(f"service.permissions[{index}].name", "value is required") for index in range(1000)]
    error = InvalidArgument("the request has invalid fields", violations=violations)
    status = to_status_proto(describe(error))
    [bad_request] = _unpack(status, error_details_pb2.BadRequest)
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    kept = [violation.field for violation in bad_request.field_violations]
    assert 10 < len(kept) < 1000
    assert kept == [violation.field for violation in violations[: len(kept)]]
    [info] = _unpack(status, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert dict(info.metadata) == {"violations_omitted": str(1000 - len(kept))}
    [(_, value)] = trailing_metadata(describe(error))
    assert len(value) * 4 / 3 < 8 * 1024


def test_a_violation_of_any_size_is_cut_so_the_status_fits_a_trailer() -> None:
    # A field named after what the caller sent (an answer's 60,000-character key), a long
    # description and message: cut on a character boundary, each marked by an ellipsis.
    key = "k" * 59_999 + "\u00e9"
    error = InvalidArgument(
        "\u00e9" * 5000, violations=[FieldViolation(f"answers.{key}", "\u00e9" * 5000), FieldViolation("b", "ok")]
    )
    status = to_status_proto(describe(error))
    [bad_request] = _unpack(status, error_details_pb2.BadRequest)
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    first = bad_request.field_violations[0]
    for text in (first.field, first.description, status.message):
        assert text.endswith("\u2026")
        assert len(text.encode()) <= MAX_TEXT_BYTES
    assert first.field.startswith("answers.kkk")
    assert [v.field for v in bad_request.field_violations] == [first.field, "b"]
    assert status.ByteSize() <= MAX_VIOLATION_BYTES + 512  # the ErrorInfo and the framing
    [(_, value)] = trailing_metadata(describe(error))
    assert len(value) * 4 / 3 < 8 * 1024


def test_truncated_keeps_short_texts_and_cuts_between_characters() -> None:
    assert truncated("short", 10) == "short"
    assert truncated("\u00e9" * 10, 10) == "\u00e9" * 3 + "\u2026"  # 7 bytes left: 3 whole characters
    assert truncated("abcdefghijk", 10) == "abcdefg\u2026"


def test_a_single_violation_is_kept_whatever_its_size() -> None:
    error = InvalidArgument("bad", violations=[FieldViolation("answers.notes", "x" * 6000)])
    [bad_request] = _unpack(to_status_proto(describe(error)), error_details_pb2.BadRequest)
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    assert len(bad_request.field_violations) == 1
