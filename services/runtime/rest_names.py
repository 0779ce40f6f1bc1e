"""Field names as a REST caller wrote them.

Through the edge a caller writes JSON names (``pageSize``, ``updateMask``,
``tenant.displayName``); the transcoder hands the service proto names. Field violations
are addressed by proto path, so for a call that came through the transcoder (it leaves
the REST path in ``x-envoy-original-path``) each path is given back with the JSON name
of every proto field along it. Only proto fields are renamed: a path that enters a
free-form value (``config.api_key`` in a Struct) or a map key keeps the caller's own keys.
An update mask's description lists field paths, which are renamed too. Native gRPC
callers keep proto names.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor

from services.runtime.errors import ErrorDescription, FieldViolation

TRANSCODED_HEADER = "x-envoy-original-path"
_FREE_FORM = frozenset({"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"})
_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(.*)$")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def came_through_transcoder(metadata: Mapping[str, str]) -> bool:
    return TRANSCODED_HEADER in metadata


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def rest_path(path: str, message: Descriptor | None) -> str:
    """``tenant.display_name`` -> ``tenant.displayName`` along ``message``'s fields."""
    segments = path.split(".")
    out: list[str] = []
    for index, segment in enumerate(segments):
        match = _SEGMENT.match(segment)
        field = message.fields_by_name.get(match.group(1)) if message is not None and match else None
        if field is None or match is None:
            out.extend(segments[index:])  # not a proto field (any more): the caller's own keys
            break
        out.append(field.json_name + match.group(2))
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            message = message.fields_by_name["value"].message_type
        if message is not None and message.full_name in _FREE_FORM:
            message = None
    return ".".join(out)


def _input_type(method: str) -> Descriptor | None:
    service, _, name = method.strip("/").rpartition("/")
    try:
        found: Descriptor = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name].input_type
    except KeyError:
        return None
    return found


def for_rest_caller(error: ErrorDescription, method: str) -> ErrorDescription:
    message = _input_type(method)

    def renamed(violation: FieldViolation) -> FieldViolation:
        field = rest_path(violation.field, message)
        description = violation.description
        if violation.field.endswith("update_mask"):
            description = _SNAKE.sub(lambda match: _camel(match.group(0)), description)
        return dataclasses.replace(violation, field=field, description=description)

    return dataclasses.replace(error, violations=tuple(renamed(v) for v in error.violations))
