"""The OpenAPI 3.1 document of every HTTP-bound RPC in a set of proto files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2
from tenantmesh.type.v1 import access_pb2, rest_pb2

from services.openapi.descriptors import ProtoIndex, services
from services.openapi.operations import HTTP_BODY, Binding, OperationBuilder, bindings, method_rule, raw_body_content
from services.openapi.schemas import Schema, SchemaBuilder, component_ref

OPENAPI_VERSION = "3.1.0"
STATUS = "google.rpc.Status"
# Detail messages the platform puts in google.rpc.Status.details.
ERROR_DETAILS = ("google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo")
TENANT_HEADER = "x-tenant-id"
SECURITY_SCHEME = "bearerAuth"

_HTTP: Any = annotations_pb2.http
_ACCESS: Any = access_pb2.access
_JSON_RENDERING_OF: Any = rest_pb2.json_rendering_of
_SCOPE_NAME: Any = access_pb2.AccessScope.Name

# Envoy's gRPC -> HTTP status mapping (convert_grpc_status), for the codes an RPC documents.
GRPC_TO_HTTP: dict[str, int] = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
# A code followed by its reasons in parentheses, as the proto comments write them:
# "Errors: NOT_FOUND (TENANT_NOT_FOUND), ABORTED (ETAG_MISMATCH)".
_ERROR_ENTRY = re.compile(r"\b(" + "|".join(GRPC_TO_HTTP) + r")\b(?:\s*\(([^)]*)\))?")

# What every operation can answer, whatever its comment says.
_COMMON_ERRORS: tuple[tuple[int, str], ...] = (
    (400, "Invalid input (FIELD_INVALID with BadRequest field violations, MALFORMED_REQUEST)."),
    (429, "Rate limited at the edge (RATE_LIMITED) or by the service."),
    (503, "A service is unavailable (UPSTREAM_UNAVAILABLE, DEPENDENCY_UNAVAILABLE); retry with backoff."),
)
_AUTH_ERRORS: tuple[tuple[int, str], ...] = (
    (401, "No valid access token (CREDENTIALS_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_REVOKED)."),
    (403, "The token lacks the permission or belongs to another tenant (PERMISSION_DENIED, TENANT_MISMATCH)."),
)
_TENANT_ERRORS: tuple[tuple[int, str], ...] = (
    (
        400,
        "The x-tenant-id header is missing (TENANT_HEADER_MISSING), not a tenant id (TENANT_HEADER_INVALID: "
        "it takes the id, not the slug) or the tenant is not serving.",
    ),
    (404, "No such tenant (TENANT_NOT_FOUND)."),
)


def build_document(
    files: Sequence[descriptor_pb2.FileDescriptorProto],
    generate: Sequence[str],
    *,
    title: str = "Tenantmesh API",
    version: str = "0.0.0",
) -> dict[str, Any]:
    """The document for every service of the files named in ``generate`` (``files`` holds them
    and everything they import, as protoc hands them to a plugin)."""
    index = ProtoIndex.build(files)
    schemas = SchemaBuilder(index)
    ops = OperationBuilder(index, schemas)
    wanted = [f for f in files if f.name in set(generate)]

    paths: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, str]] = []
    operation_ids: set[str] = set()
    for service_name, service in services(wanted):
        routed = [(m, method_rule(m, _HTTP)) for m in service.method]
        if not any(rule is not None for _, rule in routed):
            continue  # internal: no REST binding at all
        tag: dict[str, str] = {"name": service.name}
        if index.comment(service_name):
            tag["description"] = index.comment(service_name)
        tags.append(tag)
        for method, served in _operations(service_name, routed):
            for number, (binding, called) in enumerate(served):
                operation_id = f"{service.name}_{method.name}" + (f"_{number + 1}" if number else "")
                if operation_id in operation_ids:
                    raise ValueError(f"duplicate operationId {operation_id}")
                operation_ids.add(operation_id)
                path = ops.openapi_path(binding.template, method.input_type)
                item = paths.setdefault(path, {})
                if binding.verb in item:
                    raise ValueError(f"{binding.verb.upper()} {path} is bound by two RPCs")
                item[binding.verb] = _operation(
                    index, ops, service_name, service.name, method, called, binding, operation_id, number
                )

    _ensure_status(schemas, index)
    _link_creates(paths, schemas.components)
    components = _reachable(schemas.components, paths)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The REST surface of Tenantmesh as its edge serves it: JSON with lowerCamelCase names, "
                "64-bit integers as strings, enums by name. Every call but the public ones needs "
                "`authorization: Bearer <access token>`; tenant-scoped calls also name the tenant in "
                "`x-tenant-id`. Errors are a google.rpc.Status whose details carry an ErrorInfo "
                "(stable `reason`, domain `tenantmesh.dev`) and, for bad input, a BadRequest."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        # Relative: the document is served by the edge it describes.
        "servers": [{"url": "/", "description": "The edge that serves this document"}],
        "security": [{SECURITY_SCHEME: []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "parameters": {
                "TenantHeader": {
                    "name": TENANT_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "The tenant the call acts in (its id). Must be the token's tenant, "
                    "unless the RPC allows a platform administrator to act on any tenant.",
                    "schema": {"type": "string", "format": "uuid"},
                }
            },
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from AuthService.Login, Refresh or ExchangeApiKey.",
                }
            },
        },
    }


MethodProto = descriptor_pb2.MethodDescriptorProto


def _operations(
    service_full_name: str, routed: Sequence[tuple[MethodProto, http_pb2.HttpRule | None]]
) -> list[tuple[MethodProto, list[tuple[Binding, MethodProto]]]]:
    """Each operation REST clients see: the RPC it describes, and its bindings with the RPC each one
    calls. An RPC rendering another's answer as JSON (``json_rendering_of``) is no operation of its
    own: its bindings come first among those of the RPC it renders, so they take that RPC's
    operation id and response schema."""
    by_name = {method.name: method for method, _ in routed}
    rendered_by: dict[str, list[tuple[Binding, MethodProto]]] = {}
    for method, rule in routed:
        typed = _rendering_of(method)
        if not typed:
            continue
        described = by_name.get(typed)
        if described is None or method.output_type != HTTP_BODY or method.input_type != described.input_type:
            raise ValueError(
                f"{service_full_name}.{method.name}: json_rendering_of names an RPC of the same service and "
                "request type, and the RPC returns google.api.HttpBody"
            )
        rendered_by.setdefault(typed, []).extend((b, method) for b in (bindings(rule) if rule else ()))
    found = []
    for method, rule in routed:
        if _rendering_of(method):
            continue
        served = [*rendered_by.get(method.name, []), *((b, method) for b in (bindings(rule) if rule else ()))]
        if served:
            found.append((method, served))
    return found


def _rendering_of(method: MethodProto) -> str:
    if not method.options.HasExtension(_JSON_RENDERING_OF):
        return ""
    typed: str = method.options.Extensions[_JSON_RENDERING_OF]
    return typed


def _operation(
    index: ProtoIndex,
    ops: OperationBuilder,
    service_full_name: str,
    service_name: str,
    method: descriptor_pb2.MethodDescriptorProto,
    called: descriptor_pb2.MethodDescriptorProto,
    binding: Binding,
    operation_id: str,
    number: int,
) -> dict[str, Any]:
    """The operation describing ``method``'s answer on ``binding``, which calls ``called`` (itself,
    or an RPC rendering its answer)."""
    comment = index.comment(f"{service_full_name}.{method.name}")
    summary = _summary(comment) or method.name
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [service_name],
        "summary": summary + (f" (binding {number + 1})" if number else ""),
    }
    if comment:
        operation["description"] = comment
    access = called.options.Extensions[_ACCESS] if called.options.HasExtension(_ACCESS) else None
    public = bool(access is not None and access.public)
    tenant_scoped = access is not None and _SCOPE_NAME(access.scope) == "ACCESS_SCOPE_TENANT"

    parameters = ops.path_parameters(binding, method.input_type) + ops.query_parameters(binding, method.input_type)
    if tenant_scoped:
        parameters.append({"$ref": "#/components/parameters/TenantHeader"})
    if parameters:
        operation["parameters"] = parameters
    body = ops.request_body(binding, method.input_type)
    if body is not None:
        operation["requestBody"] = body

    success: dict[str, Any] = {"description": "OK"}
    if method.output_type == HTTP_BODY:
        # The transcoder passes google.api.HttpBody through as the body itself, in the content type
        # the service names (a stream of them is one body, written as it is produced).
        success["description"] = "The body itself, in the content type the service names" + (
            ", written as it is produced. A failure after it started cuts it short; the status is then "
            "only in the HTTP/2 trailers (grpc-status, grpc-status-details-bin)."
            if method.server_streaming
            else "."
        )
        success["content"] = raw_body_content()
    else:
        response = ops.response_schema(binding, method.output_type)
        if method.server_streaming:
            success["description"] = (
                "A server stream: a JSON array whose elements arrive one by one as the service "
                + (
                    "sends them; read it incrementally. An error after the stream started arrives as its last element, "
                    "which holds only `error` (a google.rpc.Status, as in an error response)."
                    if _carries_errors(index, method.output_type)
                    else "sends them; read it incrementally. An error after the stream started ends the array early; "
                    "its status is only in the HTTP/2 trailers."
                )
            )
            response = {"type": "array", "items": response}
            operation["x-stream"] = "server"
        success["content"] = {"application/json": {"schema": response}}
    operation["responses"] = {"200": success, **_error_responses(comment, public, tenant_scoped)}

    operation["security"] = [] if public else [{SECURITY_SCHEME: []}]
    operation["x-grpc-method"] = f"/{service_full_name}/{called.name}"
    if access is not None:
        policy: dict[str, Any] = {"public": public, "scope": _SCOPE_NAME(access.scope).removeprefix("ACCESS_SCOPE_")}
        if access.permission:
            policy["permission"] = access.permission
        if access.platform_override:
            policy["platformOverride"] = True
        operation["x-tenantmesh-access"] = policy
    return operation


def _link_creates(paths: dict[str, Any], components: dict[str, Schema]) -> None:
    """OpenAPI links from each create (POST on a collection) to the operations on the resource
    it made: ``POST /v1/tenants`` answers ``tenant.tenantId``, which is the ``{tenantId}`` of
    ``/v1/tenants/{tenantId}`` and ``/v1/tenants/{tenantId}:suspend``. A link is added only
    when every path parameter of the target is a string the create's answer carries, so
    clients and stateful fuzzers can follow create -> get -> update -> delete."""
    for source_path, item in paths.items():
        create = item.get("post")
        if create is None or "{" in source_path:
            continue
        fields = _string_fields(create["responses"]["200"]["content"]["application/json"]["schema"], components)
        links: dict[str, Any] = {}
        for target_path, target_item in paths.items():
            if not target_path.startswith(source_path + "/{"):
                continue
            for target in target_item.values():
                names = [p["name"] for p in target.get("parameters", []) if p.get("in") == "path"]
                if names and all(name in fields for name in names):
                    links[target["operationId"]] = {
                        "operationId": target["operationId"],
                        "parameters": {name: f"$response.body#{fields[name]}" for name in names},
                    }
        if links:
            create["responses"]["200"]["links"] = links


def _string_fields(schema: Schema, components: dict[str, Schema], depth: int = 0) -> dict[str, str]:
    """Property name -> JSON pointer of every string property within two levels of ``schema``
    (the nearest one wins)."""
    prefix = "#/components/schemas/"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(prefix):
        schema = components.get(ref[len(prefix) :], {})
    found: dict[str, str] = {}
    nested: list[tuple[str, Schema]] = []
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("type") == "string":
            found.setdefault(name, f"/{name}")
        elif "$ref" in prop and depth < 1:
            nested.append((name, prop))
    for name, prop in nested:
        for inner, pointer in _string_fields(prop, components, depth + 1).items():
            found.setdefault(inner, f"/{name}{pointer}")
    return found


def _reachable(components: dict[str, Schema], paths: dict[str, Any]) -> dict[str, Schema]:
    """The components the paths refer to, directly or through other components (the builder
    also makes response forms of request-only messages, to compare the two)."""
    prefix = "#/components/schemas/"
    found: set[str] = set()
    pending: list[Any] = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix) :] not in found:
                found.add(ref[len(prefix) :])
                pending.append(components[ref[len(prefix) :]])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return {name: schema for name, schema in components.items() if name in found}


def _summary(comment: str) -> str:
    first = comment.split("\n\n", maxsplit=1)[0].replace("\n", " ").strip()
    sentence = re.split(r"(?<=[.;:])\s", first, maxsplit=1)[0]
    return sentence.rstrip(".;:")


def _error_responses(comment: str, public: bool, tenant_scoped: bool) -> dict[str, Any]:
    """Every documented non-2xx answer (google.rpc.Status), plus `default` for the rest."""
    reasons: dict[int, list[str]] = {}
    for status, text in _COMMON_ERRORS + (() if public else _AUTH_ERRORS) + (_TENANT_ERRORS if tenant_scoped else ()):
        reasons.setdefault(status, []).append(text)
    _, _, documented = comment.partition("Errors:")
    for match in _ERROR_ENTRY.finditer(documented):
        code, detail = match.group(1), (match.group(2) or "").strip()
        text = f"{code}" + (f" ({detail})" if detail else "")
        reasons.setdefault(GRPC_TO_HTTP[code], []).append(text + ".")
    responses: dict[str, Any] = {}
    for status in sorted(reasons):
        responses[str(status)] = _status_response(" ".join(dict.fromkeys(reasons[status])))
    responses["default"] = _status_response("Any other error, as a google.rpc.Status.")
    return responses


def _status_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": component_ref(STATUS)}}}


def _ensure_status(schemas: SchemaBuilder, index: ProtoIndex) -> None:
    """google.rpc.Status with its details as the typed detail messages (ErrorInfo, BadRequest,
    RetryInfo) or any other Any."""
    for name in (STATUS, *ERROR_DETAILS):
        if name not in index.messages:
            raise ValueError(f"{name} is not among the plugin's inputs; compile google/rpc/*.proto with the rest")
    schemas.message_ref(STATUS)
    variants: list[Schema] = []
    for name in ERROR_DETAILS:
        variants.append(schemas.message_ref(name))
        component = schemas.components[name]
        component["properties"] = {"@type": {"const": f"type.googleapis.com/{name}"}, **component["properties"]}
        component["required"] = ["@type", *component.get("required", [])]
    details = schemas.components[STATUS]["properties"]["details"]
    details["items"] = {"anyOf": [*variants, schemas.message_ref("google.protobuf.Any")]}


def _carries_errors(index: ProtoIndex, type_name: str) -> bool:
    """Whether a stream of ``type_name`` ends with an error element for REST callers
    (services/runtime/stream_errors.py): it has an ``error`` field of type google.rpc.Status."""
    return any(
        field.name == "error" and field.type_name == ".google.rpc.Status"
        for field in index.message(type_name).proto.field
    )
