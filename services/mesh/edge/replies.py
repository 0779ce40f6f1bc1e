"""Envoy's own replies (refused tokens, rate limits, bad bodies), shaped like the services' errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import auto

import grpc
from google.rpc import error_details_pb2, status_pb2

from services.runtime.errors import ERROR_DOMAIN, CommonReason, ErrorDescription, FieldViolation, Reason
from services.runtime.rich_status import to_status_proto


class EdgeReason(Reason):
    """Reasons only the edge gives (its own replies to REST callers)."""

    RATE_LIMITED = auto()
    REQUEST_TOO_LARGE = auto()
    MALFORMED_REQUEST = auto()
    ROUTE_NOT_FOUND = auto()
    METHOD_NOT_ALLOWED = auto()
    UPSTREAM_UNAVAILABLE = auto()
    UPSTREAM_TIMEOUT = auto()
    REQUEST_TIMEOUT = auto()
    EDGE_INTERNAL = auto()
    HEADER_INVALID = auto()


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
_UNIMPLEMENTED = 12


def grpc_status_details(code: int, message: str, reason: Reason) -> str:
    """A ``grpc-status-details-bin`` value: a google.rpc.Status (code, message, ErrorInfo) as the
    services send it, base64 without padding."""
    status = status_pb2.Status(code=code, message=message)
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    return base64.b64encode(status.SerializeToString()).decode().rstrip("=")


@dataclass(frozen=True)
class JwtLocalReply:
    jwt_status: str | None
    reason: Reason
    message: str

    @property
    def grpc_status_details(self) -> str:
        """The ``grpc-status-details-bin`` value native gRPC callers get: a google.rpc.Status
        (UNAUTHENTICATED, this message, ErrorInfo) as the services send it, base64."""
        return grpc_status_details(_UNAUTHENTICATED, self.message, self.reason)


def jwt_local_replies() -> list[JwtLocalReply]:
    return [JwtLocalReply(*entry) for entry in JWT_LOCAL_REPLIES]


@dataclass(frozen=True)
class GrpcLocalReply:
    """A reply the edge gives native gRPC callers itself (a trailers-only response)."""

    code: int  # gRPC status code
    reason: Reason
    message: str

    @property
    def grpc_status_details(self) -> str:
        return grpc_status_details(self.code, self.message, self.reason)


# A gRPC call is an HTTP/2 POST (the gRPC over HTTP/2 protocol). Any other method on a request
# with a gRPC content type is answered by the edge: the Python servers reset such a stream
# (Envoy then reported an upstream reset, retried reads and counted the host as failing) or
# answered INTERNAL for a ':method' they could not parse.
GRPC_METHOD_NOT_ALLOWED = GrpcLocalReply(
    _UNIMPLEMENTED, EdgeReason.METHOD_NOT_ALLOWED, "a gRPC call is an HTTP POST: no other method is answered"
)


@dataclass(frozen=True)
class GrpcHeaderRule:
    """A gRPC header the services' grpc-core must be able to parse: a call whose value does not
    match ``valid_regex`` (RE2, whole value) is answered INVALID_ARGUMENT by the edge."""

    header: str
    valid_regex: str
    description: str
    reason: Reason = EdgeReason.HEADER_INVALID

    @property
    def message(self) -> str:
        return f"the {self.header} header is not valid: {self.description}"

    @property
    def grpc_status_details(self) -> str:
        """The ``grpc-status-details-bin`` value: ErrorInfo HEADER_INVALID and the header as a
        BadRequest field violation, as the services describe a bad field."""
        error = ErrorDescription(
            code=grpc.StatusCode.INVALID_ARGUMENT,
            reason=self.reason,
            message=self.message,
            violations=(FieldViolation(self.header, self.description, self.reason),),
        )
        return base64.b64encode(to_status_proto(error).SerializeToString()).decode().rstrip("=")


# The gRPC transport's own request headers that a caller never needs to send through the edge:
# grpc-core parses them (attempt counts, a retry pushback, a status, internal encodings, binary
# trace and load-balancing tags) and answers INTERNAL when it cannot. The edge drops them.
GRPC_TRANSPORT_HEADERS = (
    "grpc-previous-rpc-attempts",
    "grpc-retry-pushback-ms",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-internal-encoding-request",
    "grpc-tags-bin",
    "grpc-trace-bin",
    "lb-cost-bin",
)


# grpc-core answers a call INTERNAL ("Error parsing 'grpc-timeout' metadata") when it cannot parse
# these, and a bad grpc-timeout stayed in the HPACK table of Envoy's connection to the service: every
# later call with a grpc-timeout on that connection, whoever made it, failed the same way. The edge
# refuses them.
GRPC_HEADER_RULES: tuple[GrpcHeaderRule, ...] = (
    # The gRPC over HTTP/2 spec: TimeoutValue is 1 to 8 ASCII digits, TimeoutUnit one of H M S m u n.
    GrpcHeaderRule(
        "grpc-timeout",
        "[0-9]{1,8}[HMSmun]",
        "1 to 8 digits and a unit (H, M, S, m, u or n), as in 5S or 100m",
    ),
    # The message encodings grpcio servers take (grpc-core: identity, deflate, gzip).
    GrpcHeaderRule("grpc-encoding", "identity|gzip|deflate", "one of identity, gzip or deflate"),
)


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
    # INVALID_ARGUMENT: the request's headers are over the limit (HTTP/1.1); the same headers
    # again cannot succeed.
    (431, 3, EdgeReason.REQUEST_TOO_LARGE, "the request's headers are larger than the edge accepts"),
    # DEADLINE_EXCEEDED: the request (its headers, or a quiet stream) did not arrive in time.
    (408, 4, EdgeReason.REQUEST_TIMEOUT, None),
    # INTERNAL: something in the edge itself failed (no service was asked).
    (500, 13, EdgeReason.EDGE_INTERNAL, None),
)
