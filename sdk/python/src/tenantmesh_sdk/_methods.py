"""What the SDK needs to know about an RPC, read from the generated descriptors: whether it
is public, whether repeating it is safe, and whether it carries a request_id."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from google.api import annotations_pb2
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

# Registers the access policy option, so that it is readable from the descriptors.
from tenantmesh.type.v1 import access_pb2

_ACCESS: Any = access_pb2.access
_HTTP: Any = annotations_pb2.http
REQUEST_ID_FIELD = "request_id"


@dataclass(frozen=True)
class MethodInfo:
    path: str
    public: bool
    # Reads (REST binding GET) change nothing: repeating one is always safe.
    read_only: bool
    # A request_id makes a create idempotent: a retry with the same id gets the first answer.
    has_request_id: bool

    @property
    def retryable(self) -> bool:
        return self.read_only or self.has_request_id


@functools.cache
def method_info(path: str) -> MethodInfo:
    """``/package.Service/Method`` -> its MethodInfo (unknown methods: not public, not retried)."""
    service_name, _, method_name = path.lstrip("/").partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return MethodInfo(path, public=False, read_only=False, has_request_id=False)
    method = service.methods_by_name.get(method_name)
    if method is None:
        return MethodInfo(path, public=False, read_only=False, has_request_id=False)
    options = method.GetOptions()
    public = bool(options.HasExtension(_ACCESS) and options.Extensions[_ACCESS].public)
    read_only = bool(options.HasExtension(_HTTP) and options.Extensions[_HTTP].WhichOneof("pattern") == "get")
    request_id = method.input_type.fields_by_name.get(REQUEST_ID_FIELD)
    has_request_id = request_id is not None and request_id.type == request_id.TYPE_STRING
    return MethodInfo(path, public=public, read_only=read_only, has_request_id=has_request_id)


def with_request_id(info: MethodInfo, request: Any) -> Any:
    """The request with its request_id filled in when empty (a copy; the caller's is untouched)."""
    if not info.has_request_id or not isinstance(request, Message) or getattr(request, REQUEST_ID_FIELD):
        return request
    filled = type(request)()
    filled.CopyFrom(request)
    setattr(filled, REQUEST_ID_FIELD, str(uuid.uuid4()))
    return filled
