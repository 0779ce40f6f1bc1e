"""Tenantmesh for Python: the generated stubs on a channel that handles tokens, the tenant
header, deadlines, retries and typed errors. See README.md."""

from tenantmesh_sdk._client import AsyncClient, Client
from tenantmesh_sdk._credentials import ApiKey, Credentials, Password
from tenantmesh_sdk._errors import (
    AbortedError,
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    MfaRequiredError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    TenantmeshError,
    UnauthenticatedError,
    UnavailableError,
)
from tenantmesh_sdk._paging import apaginate, paginate
from tenantmesh_sdk._webhooks import WebhookVerificationError, WebhookVerifier

TENANT_HEADER = "x-tenant-id"

__all__ = [
    "TENANT_HEADER",
    "AbortedError",
    "AlreadyExistsError",
    "ApiKey",
    "AsyncClient",
    "Client",
    "Credentials",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InternalError",
    "InvalidArgumentError",
    "MfaRequiredError",
    "NotFoundError",
    "Password",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "TenantmeshError",
    "UnauthenticatedError",
    "UnavailableError",
    "WebhookVerificationError",
    "WebhookVerifier",
    "apaginate",
    "paginate",
]
