"""OpenAPI 3.1 from the protos: a protoc plugin (``protoc-gen-openapi``).

The document describes the REST surface exactly as Envoy's gRPC-JSON transcoder
serves it: every ``google.api.http`` binding of every service in the files protoc
is asked to generate, with the transcoder's JSON mapping (lowerCamelCase names,
int64 as strings, enums by name, well-known types in their JSON forms), the
protovalidate rules that have a JSON Schema equivalent, the proto comments, and
each RPC's access policy. Nothing in here names a Tenantmesh service: a new
service's protos appear in the document by being compiled with the others.

Modules: ``descriptors`` (an index of the request's types and comments),
``rules`` (protovalidate -> JSON Schema), ``schemas`` (messages and enums),
``operations`` (HTTP bindings -> paths), ``document`` (the whole), ``plugin``
(protoc's stdin/stdout protocol).
"""

from services.openapi.document import build_document

__all__ = ["build_document"]
