"""OTLP trace encoding for a batch, with the parts that repeat across spans encoded once.

The exporter's stock encoder groups a batch by resource and scope through their hashes (a
resource hashes by dumping its attributes to sorted JSON, per span) and builds every attribute
as two fresh messages. A service's spans repeat almost everything: a handful of resources and
scopes, and attribute pairs such as ``rpc.method=GetTenant`` or ``rpc.grpc.status_code=0``.
Here the batch is grouped by object identity, each resource and scope is encoded once per
process, recurring attribute pairs come from a bounded cache, and spans are filled in place in
the request instead of being built and copied in. The output is the same OTLP message
(tests/unit/test_otlp_encoding.py compares the two); events and links, which server, SQL and
Redis spans rarely carry, go through the stock helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes, _encode_value
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _encode_events,
    _encode_links,
    _encode_trace_state,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope as SdkScope
from opentelemetry.trace import SpanKind, StatusCode

_KINDS = {
    SpanKind.INTERNAL: PbSpan.SpanKind.SPAN_KIND_INTERNAL,
    SpanKind.SERVER: PbSpan.SpanKind.SPAN_KIND_SERVER,
    SpanKind.CLIENT: PbSpan.SpanKind.SPAN_KIND_CLIENT,
    SpanKind.PRODUCER: PbSpan.SpanKind.SPAN_KIND_PRODUCER,
    SpanKind.CONSUMER: PbSpan.SpanKind.SPAN_KIND_CONSUMER,
}
_HAS_IS_REMOTE = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_REMOTE = _HAS_IS_REMOTE | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
# Values longer than this are rarely repeated (request ids, SQL text): encoded every time.
_CACHED_VALUE_CHARS = 64
# Resources and scopes are a few per provider; a process that keeps making providers (tests)
# starts over past this many.
_CACHED_PARTS = 256
# Recurring pairs are few (methods, codes, tenants, principal kinds); the cache starts over
# rather than grow without bound when a process sees more.
_CACHED_PAIRS = 4096


class SpanEncoder:
    """Encodes batches of finished spans into one export request (the batch processor exports
    one batch at a time; a cache that another thread cleared only misses)."""

    def __init__(self) -> None:
        # Keyed by identity, the object kept alongside so that its id is never reused meanwhile.
        self._resources: dict[int, tuple[Resource, PbResource]] = {}
        self._scopes: dict[int, tuple[SdkScope | None, InstrumentationScope]] = {}
        self._pairs: dict[tuple[str, type, Any], KeyValue] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        groups: dict[int, dict[int, list[ReadableSpan]]] = {}
        for span in spans:
            groups.setdefault(id(span.resource), {}).setdefault(id(span.instrumentation_scope), []).append(span)
        request = ExportTraceServiceRequest()
        for scoped in groups.values():
            first = next(iter(scoped.values()))[0]
            resource_spans = request.resource_spans.add(schema_url=first.resource.schema_url)
            resource_spans.resource.CopyFrom(self._resource(first.resource))
            for members in scoped.values():
                scope = members[0].instrumentation_scope
                scope_spans = resource_spans.scope_spans.add(schema_url=scope.schema_url if scope else None)
                scope_spans.scope.CopyFrom(self._scope(scope))
                out = scope_spans.spans
                for span in members:
                    self._span(out.add(), span)
        return request

    def _span(self, out: PbSpan, span: ReadableSpan) -> None:
        context = span.context
        assert context is not None
        parent = span.parent
        out.trace_id = context.trace_id.to_bytes(16, "big")
        out.span_id = context.span_id.to_bytes(8, "big")
        if parent is not None:
            out.parent_span_id = parent.span_id.to_bytes(8, "big")
        out.flags = _REMOTE if parent is not None and parent.is_remote else _HAS_IS_REMOTE
        if context.trace_state:
            out.trace_state = _encode_trace_state(context.trace_state) or ""
        out.name = span.name
        out.kind = _KINDS[span.kind]
        out.start_time_unix_nano = span.start_time or 0
        out.end_time_unix_nano = span.end_time or 0
        if span.attributes:
            out.attributes.extend(self._attributes(span.attributes))
        if span.events:
            out.events.extend(_encode_events(span.events) or ())
        if span.links:
            out.links.extend(_encode_links(span.links))
        status = span.status
        out.status.SetInParent()  # present even when unset, as the stock encoder writes it
        if status.status_code is not StatusCode.UNSET:
            out.status.code = status.status_code.value
            if status.description:
                out.status.message = status.description
        out.dropped_attributes_count = span.dropped_attributes
        out.dropped_events_count = span.dropped_events
        out.dropped_links_count = span.dropped_links

    def _attributes(self, attributes: Mapping[str, Any]) -> list[KeyValue]:
        pairs = self._pairs
        encoded: list[KeyValue] = []
        for key, value in attributes.items():
            kind = type(value)
            if kind is str and len(value) > _CACHED_VALUE_CHARS:
                encoded.append(KeyValue(key=key, value=AnyValue(string_value=value)))
                continue
            if kind not in (str, int, bool, float):
                encoded.extend(_encode_attributes({key: value}))
                continue
            # The type is part of the key: True == 1 and 1 == 1.0 must not share an entry.
            cache_key = (key, kind, value)
            pair = pairs.get(cache_key)
            if pair is None:
                if len(pairs) >= _CACHED_PAIRS:
                    pairs.clear()
                pair = pairs[cache_key] = KeyValue(key=key, value=_encode_value(value))
            encoded.append(pair)
        return encoded

    def _resource(self, resource: Resource) -> PbResource:
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            if len(self._resources) >= _CACHED_PARTS:
                self._resources.clear()
            cached = self._resources[id(resource)] = (
                resource,
                PbResource(attributes=_encode_attributes(resource.attributes)),
            )
        return cached[1]

    def _scope(self, scope: SdkScope | None) -> InstrumentationScope:
        cached = self._scopes.get(id(scope))
        if cached is None or cached[0] is not scope:
            if len(self._scopes) >= _CACHED_PARTS:
                self._scopes.clear()
            encoded = (
                InstrumentationScope()
                if scope is None
                else InstrumentationScope(
                    name=scope.name, version=scope.version or "", attributes=_encode_attributes(scope.attributes)
                )
            )
            cached = self._scopes[id(scope)] = (scope, encoded)
        return cached[1]
