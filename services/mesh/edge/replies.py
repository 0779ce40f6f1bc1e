"""Envoy's own replies (refused tokens, rate limits, bad bodies), shaped like the services' errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import auto

from google.rpc import error_details_pb2, status_pb2

from services.runtime.errors import ERROR_DOMAIN, CommonReason, Reason


class EdgeReason(Reason):
    """Reasons only the edge gives (its own replies to REST callers)."""

    RATE_LIMITED = auto()
    REQUEST_TOO_LARGE = auto()
    MALFORMED_REQUEST = auto()
    ROUTE_NOT_FOUND = auto()
    METHOD_NOT_ALLOWED = auto()
    UPSTREAM_UNAVAILABLE = auto()
    UPSTREAM_TIMEOUT = auto()


# jwt_authn failures, told apart by the failure status it writes into dynamic metadata
# (failed_status_in_metadata): (jwt_authn status message or None for any failure, ErrorInfo
# reason, message). Reasons and messages are the ones the services' own token checks give, so
# a caller sees the same refusal whichever layer refused. First match wins.
JWT_FAILURE_METADATA_KEY = "jwt_failure"
JWT_LOCAL_REPLIES: tuple[tuple[str | None, Reason, str], ...] = (
    ("Jwt is missing", CommonReason.CREDENTIALS_MISSING, "this call needs a bearer token"),
    ("Jwt is expired", CommonReason.TOKEN_EXPIRED, "the access token is not valid: expired"),
    (None, CommonReason.TOKEN_INVALID, "the access token is not valid"),
)
_UNAUTHENTICATED = 16


@dataclass(frozen=True)
class JwtLocalReply:
    jwt_status: str | None
    reason: Reason
    message: str

    @property
    def grpc_status_details(self) -> str:
        """The ``grpc-status-details-bin`` value native gRPC callers get: a google.rpc.Status
        (UNAUTHENTICATED, this message, ErrorInfo) as the services send it, base64."""
        status = status_pb2.Status(code=_UNAUTHENTICATED, message=self.message)
        status.details.add().Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN))
        return base64.b64encode(status.SerializeToString()).decode().rstrip("=")


def jwt_local_replies() -> list[JwtLocalReply]:
    return [JwtLocalReply(*entry) for entry in JWT_LOCAL_REPLIES]


# Envoy's own replies to REST callers, shaped like a transcoded google.rpc.Status:
# HTTP status -> (gRPC code number, ErrorInfo reason, message or None for Envoy's own text).
# Order matters: first match wins.
LOCAL_REPLIES: tuple[tuple[int, int, Reason, str | None], ...] = (
    (429, 8, EdgeReason.RATE_LIMITED, None),  # RESOURCE_EXHAUSTED
    (413, 3, EdgeReason.REQUEST_TOO_LARGE, None),  # INVALID_ARGUMENT: retrying the same body cannot succeed
    # INVALID_ARGUMENT. The transcoder's own text is its JSON parser's ("Unexpected end of
    # string. Expected a value.\n\n^"): a person gets a sentence instead.
    (
        400,
        3,
        EdgeReason.MALFORMED_REQUEST,
        "the request does not fit this method: its body is not valid JSON, or it names a field or "
        "query parameter the method does not have",
    ),
    (404, 5, EdgeReason.ROUTE_NOT_FOUND, None),  # NOT_FOUND
    # UNIMPLEMENTED: the path exists, this HTTP method does not (the route says which do, in Allow).
    (405, 12, EdgeReason.METHOD_NOT_ALLOWED, None),
    (503, 14, EdgeReason.UPSTREAM_UNAVAILABLE, None),  # UNAVAILABLE
    (502, 14, EdgeReason.UPSTREAM_UNAVAILABLE, None),  # UNAVAILABLE (reset / protocol error upstream)
    (504, 4, EdgeReason.UPSTREAM_TIMEOUT, None),  # DEADLINE_EXCEEDED
)
