"""Typed domain errors.

Handlers and repositories raise these; one interceptor turns them into a gRPC
status with google.rpc details (see :mod:`services.runtime.rich_status`). Every
error carries a stable UPPER_SNAKE ``reason`` that clients may branch on; the
message is for humans and may change.

Reasons are members of :class:`Reason` enums, never bare strings, so a typo is
a type error: the runtime's own are :class:`CommonReason`, and each service
declares its own in its ``reasons.py``. A reason's value is its name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum, auto
from typing import Any

import grpc

ERROR_DOMAIN = "tenantmesh.dev"


class Reason(StrEnum):
    """The type of every ErrorInfo reason; subclasses list them (``NAME = auto()``)."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[Any]) -> str:
        return name


class CommonReason(Reason):
    """Reasons the runtime gives, whatever the service."""

    # Defaults of the error classes below.
    INTERNAL = auto()
    FIELD_INVALID = auto()
    NOT_FOUND = auto()
    ALREADY_EXISTS = auto()
    FAILED_PRECONDITION = auto()
    ETAG_MISMATCH = auto()
    UNAUTHENTICATED = auto()
    PERMISSION_DENIED = auto()
    RESOURCE_EXHAUSTED = auto()
    UNAVAILABLE = auto()
    # Input, paging and placement.
    REQUEST_MALFORMED = auto()
    PAGE_TOKEN_INVALID = auto()
    DATABASE_PLACEMENT_INVALID = auto()
    # The tenant's database is being moved to another server: writes are refused for seconds.
    TENANT_MOVING = auto()
    # Who calls, for which tenant.
    CREDENTIALS_MISSING = auto()
    TOKEN_INVALID = auto()
    TOKEN_EXPIRED = auto()
    TOKEN_REVOKED = auto()
    TENANT_HEADER_MISSING = auto()
    TENANT_HEADER_INVALID = auto()
    TENANT_MISMATCH = auto()
    TENANT_NOT_FOUND = auto()
    TENANT_SUSPENDED = auto()
    TENANT_NOT_READY = auto()
    TENANT_CONTEXT_MISSING = auto()
    # An internal-only RPC called by a service its policy does not name (mesh identity).
    CALLER_NOT_ALLOWED = auto()
    # Calls to other services.
    DEPENDENCY_UNAVAILABLE = auto()
    SERVICE_CREDENTIALS_MISSING = auto()
    # The database: unreachable for now, or this transaction collided with another (rolled back).
    DATABASE_UNAVAILABLE = auto()
    TRANSACTION_CONFLICT = auto()
    # The database has no space left to write in (disk or file system full): writes refused.
    STORAGE_FULL = auto()


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request, addressed by its proto path (``tenant.slug``)."""

    field: str
    description: str
    reason: Reason = CommonReason.FIELD_INVALID


class TenantmeshError(Exception):
    """Root of every error the platform raises on purpose."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason: Reason = CommonReason.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: Reason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(TenantmeshError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = CommonReason.FIELD_INVALID

    def __init__(
        self,
        message: str,
        *,
        violations: Sequence[FieldViolation] = (),
        reason: Reason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = tuple(violations)


class NotFound(TenantmeshError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = CommonReason.NOT_FOUND


class AlreadyExists(TenantmeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = CommonReason.ALREADY_EXISTS


class FailedPrecondition(TenantmeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = CommonReason.FAILED_PRECONDITION


class Aborted(TenantmeshError):
    code = grpc.StatusCode.ABORTED
    default_reason = CommonReason.ETAG_MISMATCH


class Unauthenticated(TenantmeshError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = CommonReason.UNAUTHENTICATED


class PermissionDenied(TenantmeshError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = CommonReason.PERMISSION_DENIED


class ResourceExhausted(TenantmeshError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = CommonReason.RESOURCE_EXHAUSTED

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        reason: Reason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after


class Unavailable(TenantmeshError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = CommonReason.UNAVAILABLE


@dataclass(frozen=True)
class ErrorDescription:
    """What a caller is told about an error: code, reason, message, details."""

    code: grpc.StatusCode
    reason: Reason
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
