"""Typed errors: one class per gRPC code, carrying the google.rpc details the platform sends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"
REQUEST_ID_KEY = "x-request-id"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request (google.rpc.BadRequest)."""

    field: str
    description: str
    reason: str = ""


class TenantmeshError(grpc.RpcError):
    """A call that failed. ``code()`` is the gRPC status code and ``reason`` the stable
    UPPER_SNAKE ErrorInfo reason to branch on; ``message`` is for people."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        metadata: dict[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        request_id: str = "",
        retry_delay: float | None = None,
    ) -> None:
        super().__init__(f"{code.name}{f' {reason}' if reason else ''}: {message}")
        self._code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.field_violations = tuple(field_violations)
        self.request_id = request_id
        self.retry_delay = retry_delay

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self.message


class InvalidArgumentError(TenantmeshError): ...


class NotFoundError(TenantmeshError): ...


class AlreadyExistsError(TenantmeshError): ...


class PermissionDeniedError(TenantmeshError): ...


class UnauthenticatedError(TenantmeshError): ...


class MfaRequiredError(UnauthenticatedError):
    """A password login that needs a second factor: the login answered with an MFA challenge
    instead of tokens. ``challenge_token`` is for ``AuthService.CompleteMfaChallenge`` (after
    ``BeginChallengeEnrolment`` when ``enrolment_required``); the SDK stores no token and does
    not complete the challenge itself. Password credentials are for accounts without a second
    factor; service accounts use API keys."""

    def __init__(self, challenge_token: str, *, enrolment_required: bool, expire_time: float | None = None) -> None:
        super().__init__(
            grpc.StatusCode.UNAUTHENTICATED,
            "the login needs a second factor (enrolment first)"
            if enrolment_required
            else "the login needs a second factor",
            reason="MFA_REQUIRED",
            domain="tenantmesh.dev",
        )
        self.challenge_token = challenge_token
        self.enrolment_required = enrolment_required
        self.expire_time = expire_time  # time.time() seconds, when the server says


class FailedPreconditionError(TenantmeshError): ...


class AbortedError(TenantmeshError): ...


class ResourceExhaustedError(TenantmeshError): ...


class UnavailableError(TenantmeshError): ...


class DeadlineExceededError(TenantmeshError): ...


class InternalError(TenantmeshError): ...


_BY_CODE: dict[grpc.StatusCode, type[TenantmeshError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


def error_from_status(
    code: grpc.StatusCode, message: str, trailers: Sequence[tuple[str, str | bytes]] | None
) -> TenantmeshError:
    """The typed error of a failed call, from its code, message and trailing metadata."""
    reason = domain = request_id = ""
    info_metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_delay: float | None = None
    for key, value in trailers or ():
        if key == REQUEST_ID_KEY:
            request_id = value.decode() if isinstance(value, bytes) else value
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        message = status.message or message
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            retry = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                reason, domain, info_metadata = info.reason, info.domain, dict(info.metadata)
            elif detail.Unpack(bad):
                violations.extend(FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations)
            elif detail.Unpack(retry):
                retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
    cls = _BY_CODE.get(
        code, InternalError if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN) else TenantmeshError
    )
    return cls(
        code,
        message,
        reason=reason,
        domain=domain,
        metadata=info_metadata,
        field_violations=violations,
        request_id=request_id,
        retry_delay=retry_delay,
    )


def error_from_rpc(error: grpc.RpcError) -> TenantmeshError:
    """Converts what grpc raises (sync ``grpc.Call`` errors and ``grpc.aio.AioRpcError``)."""
    if isinstance(error, TenantmeshError):
        return error
    code_of = getattr(error, "code", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    details_of = getattr(error, "details", None)
    message = (details_of() if callable(details_of) else "") or ""
    trailers_of = getattr(error, "trailing_metadata", None)
    trailers = trailers_of() if callable(trailers_of) else None
    return error_from_status(code, message, tuple(trailers or ()))
