"""Typed domain errors.

Handlers and repositories raise these; one interceptor turns them into a gRPC
status with google.rpc details (see :mod:`services.runtime.rich_status`). Every
error carries a stable UPPER_SNAKE ``reason`` that clients may branch on; the
message is for humans and may change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc

ERROR_DOMAIN = "tenantmesh.dev"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request, addressed by its proto path (``tenant.slug``)."""

    field: str
    description: str
    reason: str = "FIELD_INVALID"


class TenantmeshError(Exception):
    """Root of every error the platform raises on purpose."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(TenantmeshError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "FIELD_INVALID"

    def __init__(
        self,
        message: str,
        *,
        violations: Sequence[FieldViolation] = (),
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = tuple(violations)


class NotFound(TenantmeshError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(TenantmeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(TenantmeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Aborted(TenantmeshError):
    code = grpc.StatusCode.ABORTED
    default_reason = "ETAG_MISMATCH"


class Unauthenticated(TenantmeshError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(TenantmeshError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


@dataclass(frozen=True)
class RetryAfter:
    seconds: float


class ResourceExhausted(TenantmeshError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after


class Unavailable(TenantmeshError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


@dataclass(frozen=True)
class ErrorDescription:
    """What a caller is told about an error: code, reason, message, details."""

    code: grpc.StatusCode
    reason: str
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    violations: tuple[FieldViolation, ...] = ()
    retry_after: float | None = None


def describe(error: TenantmeshError) -> ErrorDescription:
    return ErrorDescription(
        code=error.code,
        reason=error.reason,
        message=error.message,
        metadata=error.metadata,
        violations=error.violations if isinstance(error, InvalidArgument) else (),
        retry_after=error.retry_after if isinstance(error, ResourceExhausted) else None,
    )
