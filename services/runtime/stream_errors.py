"""How a REST caller learns that a JSON stream failed after it began.

Through the edge, a server stream is one JSON array whose elements arrive as the service sends
them, under an HTTP 200 sent when the stream opened. When the stream then fails, its status
travels only in HTTP/2 trailers, which browsers' and Node's fetch cannot read: the array just
closes, and a failed stream looked like a finished one. So a stream whose message type has a
``google.rpc.Status error`` field ends, for a REST caller, with one more element holding only
that error (the same status the trailers carry), and the SDK raises it. gRPC callers get the
status as always and no such element.
"""

from __future__ import annotations

from functools import cache

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from services.runtime.errors import ErrorDescription
from services.runtime.rest_names import came_through_transcoder, for_rest_caller
from services.runtime.rich_status import to_status_proto

ERROR_FIELD = "error"
_STATUS_TYPE = "google.rpc.Status"


@cache
def _element_class(method: str) -> type[Message] | None:
    """The stream's message class, if it has an ``error`` field of type google.rpc.Status."""
    service, _, name = method.lstrip("/").partition("/")
    try:
        output = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name].output_type
    except KeyError:
        return None
    field = output.fields_by_name.get(ERROR_FIELD)
    if field is None or field.message_type is None or field.message_type.full_name != _STATUS_TYPE:
        return None
    return message_factory.GetMessageClass(output)


def error_element(method: str, metadata: dict[str, str], error: ErrorDescription) -> Message | None:
    """The last element a REST caller's stream gets for ``error``, or None (a gRPC caller, or a
    stream whose messages cannot carry one)."""
    if not came_through_transcoder(metadata):
        return None
    element_class = _element_class(method)
    if element_class is None:
        return None
    status = to_status_proto(for_rest_caller(error, method) if error.violations else error)
    return element_class(**{ERROR_FIELD: status})
