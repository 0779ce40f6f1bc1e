"""``google.api.http`` bindings -> OpenAPI paths and operations, as the transcoder maps them.

Path variables bind fields of the request (``{tenant.tenant_id}``); ``body: "*"`` takes
every other field from the JSON body; ``body: "field"`` takes that field from the body
and the rest from the query string; without a body every unbound field may be a query
parameter (scalars, repeated scalars and fields of singular messages, dotted). A field
bound from the path may not also be sent in the body (the edge rejects the collision),
so a body schema leaves it out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.api import http_pb2
from google.protobuf import descriptor_pb2

from services.openapi.descriptors import ProtoIndex
from services.openapi.schemas import (
    SCALAR_WELL_KNOWN,
    WELL_KNOWN,
    FieldProto,
    Schema,
    SchemaBuilder,
    is_required,
    json_name,
)

_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")
# How deep query parameters follow singular message fields (a.b.c).
_MAX_QUERY_DEPTH = 3
# The transcoder passes this message through as the HTTP body itself (its bytes, in its content type).
HTTP_BODY = ".google.api.HttpBody"


def raw_body_content() -> Schema:
    """An OpenAPI ``content`` map for such a body: any media type, any bytes."""
    return {"*/*": {"schema": {"type": "string", "format": "binary"}}}


@dataclass(frozen=True)
class Binding:
    verb: str  # lower-case HTTP method
    template: str  # as declared, e.g. /v1/tenants/{tenant.tenant_id}
    body: str  # "", "*" or a field name
    response_body: str


def bindings(rule: http_pb2.HttpRule) -> Iterator[Binding]:
    """The rule's binding and its additional bindings, in declaration order."""
    pattern = rule.WhichOneof("pattern")
    if pattern == "custom":
        if rule.custom.path:
            yield Binding(rule.custom.kind.lower(), rule.custom.path, rule.body, rule.response_body)
    elif pattern is not None and getattr(rule, pattern):
        yield Binding(pattern, getattr(rule, pattern), rule.body, rule.response_body)
    for extra in rule.additional_bindings:
        yield from bindings(extra)


def path_variables(template: str) -> list[str]:
    """Field paths (proto names) bound by the template's variables."""
    return [m.group(1) for m in _VARIABLE.finditer(template)]


class OperationBuilder:
    """Parameters, request body and success response of one binding of one method."""

    def __init__(self, index: ProtoIndex, schemas: SchemaBuilder) -> None:
        self.index = index
        self.schemas = schemas

    def openapi_path(self, template: str, request_type: str) -> str:
        """``/v1/tenants/{tenant.tenant_id}`` -> ``/v1/tenants/{tenantId}``."""
        return _VARIABLE.sub(lambda m: "{" + self.parameter_name(template, request_type, m.group(1)) + "}", template)

    def parameter_name(self, template: str, request_type: str, field_path: str) -> str:
        """A path parameter is named by the JSON name of the field it binds (the last segment):
        ``GET /v1/tenants/{tenant_id}`` and ``PATCH /v1/tenants/{tenant.tenant_id}`` are one
        OpenAPI path, so their parameters must have one name. Two variables of one template
        ending in the same name keep their whole dotted path instead."""
        last = self.json_path(request_type, field_path).rsplit(".", 1)[-1]
        lasts = [self.json_path(request_type, v).rsplit(".", 1)[-1] for v in path_variables(template)]
        return last if lasts.count(last) == 1 else self.json_path(request_type, field_path)

    def json_path(self, message_type: str, field_path: str) -> str:
        names: list[str] = []
        current = message_type
        for part in field_path.split("."):
            field = self._field(current, part)
            names.append(json_name(field))
            current = field.type_name
        return ".".join(names)

    def path_parameters(self, binding: Binding, request_type: str) -> list[Schema]:
        params: list[Schema] = []
        for variable in path_variables(binding.template):
            field = self._resolve(request_type, variable)
            schema = self.schemas.field_schema(field, "", request=True)
            schema.pop("readOnly", None)
            schema.pop("x-field-behavior", None)
            description = schema.pop("description", "") or self._comment(request_type, variable)
            param: Schema = {
                "name": self.parameter_name(binding.template, request_type, variable),
                "in": "path",
                "required": True,
                "schema": schema,
            }
            if description:
                param["description"] = description
            if "." in variable:
                param["x-field-path"] = self.json_path(request_type, variable)
            params.append(param)
        return params

    def query_parameters(self, binding: Binding, request_type: str) -> list[Schema]:
        if binding.body == "*":
            return []
        bound = set(path_variables(binding.template))
        if binding.body:
            bound.add(binding.body)
        return list(self._query(request_type, "", "", bound, depth=0, seen=frozenset()))

    def _query(
        self, message_type: str, proto_prefix: str, json_prefix: str, bound: set[str], depth: int, seen: frozenset[str]
    ) -> Iterator[Schema]:
        message = self.index.message(message_type)
        for field in message.proto.field:
            proto_path = proto_prefix + field.name
            if proto_path in bound:
                continue
            name = json_prefix + json_name(field)
            repeated = field.label == FieldProto.LABEL_REPEATED
            full = f"{message.full_name}.{field.name}"
            if field.type == FieldProto.TYPE_MESSAGE:
                type_name = field.type_name.lstrip(".")
                if type_name in SCALAR_WELL_KNOWN and not repeated:
                    yield self._query_param(name, self.schemas.field_schema(field, full, request=True))
                elif (
                    not repeated
                    and type_name not in WELL_KNOWN
                    and depth < _MAX_QUERY_DEPTH
                    and type_name not in seen
                    and not any(proto_path.startswith(b + ".") for b in bound)
                ):
                    yield from self._query(
                        type_name, proto_path + ".", name + ".", bound, depth + 1, seen | {message_type.lstrip(".")}
                    )
                continue
            schema = self.schemas.field_schema(field, full, request=True)
            if schema.get("readOnly"):
                continue
            yield self._query_param(name, schema)

    @staticmethod
    def _query_param(name: str, schema: Schema) -> Schema:
        description = schema.pop("description", "")
        schema.pop("x-field-behavior", None)
        param: Schema = {"name": name, "in": "query", "schema": schema}
        if schema.get("type") == "array":
            param.update(style="form", explode=True)
        if description:
            param["description"] = description
        return param

    def request_body(self, binding: Binding, request_type: str) -> Schema | None:
        """The requestBody object, or None when the binding takes no body."""
        if not binding.body:
            return None
        variables = path_variables(binding.template)
        if binding.body == "*":
            schema = self._body_schema(request_type, variables)
            required = any(
                is_required(f) for f in self.index.message(request_type).proto.field if f.name not in variables
            )
        else:
            field = self._field(request_type, binding.body)
            if field.type_name == HTTP_BODY:
                # The raw bytes, with their own Content-Type; not a JSON rendering of HttpBody.
                return {"required": is_required(field), "content": raw_body_content()}
            inner = [v[len(binding.body) + 1 :] for v in variables if v.startswith(binding.body + ".")]
            if field.type == FieldProto.TYPE_MESSAGE and field.type_name.lstrip(".") not in WELL_KNOWN:
                schema = self._body_schema(field.type_name, inner)
            else:
                schema = self.schemas.field_schema(field, "", request=True)
            required = is_required(field)
        return {"required": required, "content": {"application/json": {"schema": schema}}}

    def _body_schema(self, message_type: str, bound: list[str]) -> Schema:
        """The message's schema, or an inline copy without the fields bound from the path."""
        message_type = message_type.lstrip(".")
        if not bound:
            return self.schemas.message_ref(message_type, request=True)
        here = frozenset(b for b in bound if "." not in b)
        schema = self.schemas.message_schema(message_type, drop=here, request=True)
        for nested in sorted({b.split(".", 1)[0] for b in bound if "." in b}):
            field = self._field(message_type, nested)
            rest = [b.split(".", 1)[1] for b in bound if b.startswith(nested + ".")]
            replacement = self._body_schema(field.type_name, rest)
            original = schema["properties"][json_name(field)]
            schema["properties"][json_name(field)] = {
                **{k: v for k, v in original.items() if k not in ("$ref",)},
                **replacement,
            }
        return schema

    def response_schema(self, binding: Binding, response_type: str) -> Schema:
        if not binding.response_body:
            return self.schemas.message_ref(response_type)
        field = self._field(response_type, binding.response_body)
        return self.schemas.field_schema(field, "")

    # ------------------------------------------------------------------ helpers

    def _field(self, message_type: str, name: str) -> FieldProto:
        for field in self.index.message(message_type).proto.field:
            if field.name == name:
                return field
        raise ValueError(f"{message_type.lstrip('.')} has no field {name!r}")

    def _resolve(self, message_type: str, path: str) -> FieldProto:
        current = message_type
        field: FieldProto | None = None
        for part in path.split("."):
            field = self._field(current, part)
            current = field.type_name
        assert field is not None
        return field

    def _comment(self, message_type: str, path: str) -> str:
        *parents, last = path.split(".")
        current = message_type
        for part in parents:
            current = self._field(current, part).type_name
        return self.index.comment(f"{current.lstrip('.')}.{last}")


def method_rule(method: descriptor_pb2.MethodDescriptorProto, http: Any) -> http_pb2.HttpRule | None:
    if method.options.HasExtension(http):
        rule: http_pb2.HttpRule = method.options.Extensions[http]
        return rule
    return None
