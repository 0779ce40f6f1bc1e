"""OTLP trace encoding for a batch: protobuf wire format written directly, with the parts that
repeat across spans encoded once.

The exporter's stock encoder groups a batch by resource and scope through their hashes (a
resource hashes by dumping its attributes to sorted JSON, per span) and builds every span as a
tree of message objects: each attribute two fresh messages, each copied into its parent. A
service's spans repeat almost everything: a handful of resources and scopes, and attribute pairs
such as ``rpc.method=GetTenant`` or ``rpc.grpc.status_code=0``. Here the batch is grouped by
object identity, each resource, scope, span name and recurring attribute pair is kept as its
encoded bytes, and a span is a join of byte strings; the request is parsed once from the result
(in C) for the gRPC stub. The output is the same OTLP message (tests/unit/test_otlp_encoding.py
compares the two); events and links, which server, SQL and Redis spans rarely carry, are
encoded by the stock helpers.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes, _encode_value
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _encode_events,
    _encode_links,
    _encode_trace_state,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags, Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope as SdkScope
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from services.runtime.telemetry.lean_spans import UNSET_STATUS

# Field tags (field number << 3 | wire type) of opentelemetry/proto/trace/v1/trace.proto.
_LEN_1, _LEN_2, _LEN_3 = b"\x0a", b"\x12", b"\x1a"  # first three length-delimited fields
_PARENT_SPAN_ID = b"\x22\x08"  # field 4, always 8 bytes
_SPAN_ID = b"\x12\x08"  # field 2, always 8 bytes
_TRACE_ID = b"\x0a\x10"  # field 1, always 16 bytes
_NAME = b"\x2a"
_KIND = b"\x30"
_START = b"\x39"  # fixed64
_END = b"\x41"  # fixed64
_ATTRIBUTE = b"\x4a"
_DROPPED_ATTRIBUTES = b"\x50"
_EVENT = b"\x5a"
_DROPPED_EVENTS = b"\x60"
_LINK = b"\x6a"
_DROPPED_LINKS = b"\x70"
_STATUS = b"\x7a"
_FLAGS = b"\x85\x01"  # field 16, fixed32
# By the API kind's value: an Enum member hashes in Python, its value in C.
_KINDS = {
    SpanKind.INTERNAL.value: bytes([PbSpan.SpanKind.SPAN_KIND_INTERNAL]),
    SpanKind.SERVER.value: bytes([PbSpan.SpanKind.SPAN_KIND_SERVER]),
    SpanKind.CLIENT.value: bytes([PbSpan.SpanKind.SPAN_KIND_CLIENT]),
    SpanKind.PRODUCER.value: bytes([PbSpan.SpanKind.SPAN_KIND_PRODUCER]),
    SpanKind.CONSUMER.value: bytes([PbSpan.SpanKind.SPAN_KIND_CONSUMER]),
}
_LOCAL_PARENT = struct.pack("<I", SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
_REMOTE_PARENT = struct.pack(
    "<I", SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
)
_UNSET_STATUS = _STATUS + b"\x00"  # the stock encoder writes the status even when it is unset
_FIXED64 = struct.Struct("<Q").pack
# Values longer than this are rarely repeated (request ids, SQL text): encoded every time.
_CACHED_VALUE_CHARS = 64
# Attributes whose value differs on every span: written each time, never kept in the cache.
_UNIQUE_VALUES = frozenset({"tenantmesh.request_id", "messaging.message.id"})
# Recurring pairs are few (methods, codes, tenants, principal kinds); the cache starts over
# rather than grow without bound when a process sees more.
_CACHED_PAIRS = 4096
# Resources and scopes are a few per provider; a process that keeps making providers (tests)
# starts over past this many. Span names are one per method and statement kind.
_CACHED_PARTS = 256


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# A span's fields and the span itself are shorter than this: their lengths are looked up.
_SHORT = 4096
_SHORT_VARINTS = tuple(_encode_varint(value) for value in range(_SHORT))


def _varint(value: int) -> bytes:
    return _SHORT_VARINTS[value] if value < _SHORT else _encode_varint(value)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _message_field(tag: bytes, message: Message) -> bytes:
    return _field(tag, message.SerializeToString())


def _string_pair(key: str, value: str) -> bytes:
    # KeyValue{key = 1, value = 2: AnyValue{string_value = 1}}, written directly: a pair of
    # messages built and serialized costs several times as much. Written out rather than through
    # _field: this runs for every span's request id.
    key_bytes, value_bytes = key.encode(), value.encode()
    any_value = _LEN_1 + _varint(len(value_bytes)) + value_bytes
    pair = _LEN_1 + _varint(len(key_bytes)) + key_bytes + _LEN_2 + _varint(len(any_value)) + any_value
    return _ATTRIBUTE + _varint(len(pair)) + pair


class SpanEncoder:
    """Encodes batches of finished spans into one export request (the batch processor exports
    one batch at a time; a cache that another thread cleared only misses)."""

    def __init__(self) -> None:
        # Keyed by identity, the object kept alongside so that its id is never reused meanwhile.
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[SdkScope | None, bytes]] = {}
        self._names: dict[str, bytes] = {}
        # (key, value) for strings, (key, type, value) for numbers and booleans.
        self._pairs: dict[tuple[Any, ...], bytes] = {}

    def encode_bytes(self, spans: Sequence[ReadableSpan]) -> bytes:
        groups: dict[int, dict[int, list[ReadableSpan]]] = {}
        for span in spans:
            groups.setdefault(id(span.resource), {}).setdefault(id(span.instrumentation_scope), []).append(span)
        request: list[bytes] = []
        for scoped in groups.values():
            resource = next(iter(scoped.values()))[0].resource
            resource_spans = [self._resource(resource)]
            for members in scoped.values():
                scope = members[0].instrumentation_scope
                scope_spans = [self._scope(scope)]
                scope_spans.extend(self._span_field(span) for span in members)
                if scope is not None and scope.schema_url:
                    scope_spans.append(_field(_LEN_3, scope.schema_url.encode()))
                resource_spans.append(_field(_LEN_2, b"".join(scope_spans)))
            if resource.schema_url:
                resource_spans.append(_field(_LEN_3, resource.schema_url.encode()))
            request.append(_field(_LEN_1, b"".join(resource_spans)))
        return b"".join(request)

    def _span_field(self, span: ReadableSpan) -> bytes:
        """The span as a field of its ScopeSpans (tag, length, Span message)."""
        # A SpanContext is a tuple (trace id, span id, is remote, flags, trace state, ...): its
        # items are read by index, its properties would each be a call, for every span exported.
        context = span.context
        assert context is not None
        parent = span.parent
        parts = [_TRACE_ID, context[0].to_bytes(16, "big"), _SPAN_ID, context[1].to_bytes(8, "big")]
        trace_state = context[4]
        if trace_state is not DEFAULT_TRACE_STATE and trace_state:
            parts.append(_field(_LEN_3, (_encode_trace_state(trace_state) or "").encode()))
        if parent is not None:
            parts += (_PARENT_SPAN_ID, parent[1].to_bytes(8, "big"))
        parts += (self._name(span.name), _KIND, _KINDS[span.kind._value_])
        if span.start_time:
            parts += (_START, _FIXED64(span.start_time))
        if span.end_time:
            parts += (_END, _FIXED64(span.end_time))
        if span.attributes:
            parts += self._attributes(span.attributes)
        if span.dropped_attributes:
            parts += (_DROPPED_ATTRIBUTES, _varint(span.dropped_attributes))
        if span.events:
            parts += (_message_field(_EVENT, event) for event in _encode_events(span.events) or ())
        if span.dropped_events:
            parts += (_DROPPED_EVENTS, _varint(span.dropped_events))
        if span.links:
            parts += (_message_field(_LINK, link) for link in _encode_links(span.links))
        if span.dropped_links:
            parts += (_DROPPED_LINKS, _varint(span.dropped_links))
        status = span.status
        if status is UNSET_STATUS or (status.status_code is StatusCode.UNSET and not status.description):
            parts.append(_UNSET_STATUS)
        else:
            code = Status.StatusCode.ValueType(status.status_code.value)
            parts.append(_message_field(_STATUS, Status(code=code, message=status.description or "")))
        parts += (_FLAGS, _REMOTE_PARENT if parent is not None and parent[2] else _LOCAL_PARENT)
        body = b"".join(parts)
        return _LEN_2 + _varint(len(body)) + body

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            if len(self._names) >= _CACHED_PARTS:
                self._names.clear()
            encoded = self._names[name] = _field(_NAME, name.encode())
        return encoded

    def _attributes(self, attributes: Mapping[str, Any]) -> list[bytes]:
        pairs = self._pairs
        encoded: list[bytes] = []
        for item in attributes.items():
            key, value = item
            kind = type(value)
            if kind is str:
                if len(value) > _CACHED_VALUE_CHARS or key in _UNIQUE_VALUES:
                    encoded.append(_string_pair(key, value))
                    continue
                # A string pair is cached under the (key, value) item itself: no key to build.
                cache_key: tuple[Any, ...] = item
            elif kind in (int, bool, float):
                # The type is part of the key: True == 1 and 1 == 1.0 must not share an entry.
                cache_key = (key, kind, value)
            else:
                encoded.extend(_message_field(_ATTRIBUTE, pair) for pair in _encode_attributes({key: value}))
                continue
            pair = pairs.get(cache_key)
            if pair is None:
                if len(pairs) >= _CACHED_PAIRS:
                    pairs.clear()
                pair = pairs[cache_key] = _message_field(_ATTRIBUTE, KeyValue(key=key, value=_encode_value(value)))
            encoded.append(pair)
        return encoded

    def _resource(self, resource: Resource) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            if len(self._resources) >= _CACHED_PARTS:
                self._resources.clear()
            encoded = _message_field(_LEN_1, PbResource(attributes=_encode_attributes(resource.attributes)))
            cached = self._resources[id(resource)] = (resource, encoded)
        return cached[1]

    def _scope(self, scope: SdkScope | None) -> bytes:
        cached = self._scopes.get(id(scope))
        if cached is None or cached[0] is not scope:
            if len(self._scopes) >= _CACHED_PARTS:
                self._scopes.clear()
            message = (
                InstrumentationScope()
                if scope is None
                else InstrumentationScope(
                    name=scope.name, version=scope.version or "", attributes=_encode_attributes(scope.attributes)
                )
            )
            cached = self._scopes[id(scope)] = (scope, _message_field(_LEN_1, message))
        return cached[1]
