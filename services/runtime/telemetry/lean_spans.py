"""Recording spans that are only what the exporter needs: a slotted object per span.

The SDK's span keeps its attributes in a locked, validating mapping, takes a lock on start, end
and every setter, runs its tracer's metrics and span processors on start, and on ``end()`` copies
itself into a second object (a ``ReadableSpan``) for the batch processor. Measured on GetTenant
through the pipeline, that was most of what a sampled call cost the event loop
(docs/decisions.md, Observability). Here one object is both: a :class:`LeanSpan` implements the
OpenTelemetry API's ``Span`` (so the maintained instrumentations and ``trace.use_span`` work with
it unchanged, given a :class:`LeanTracerProvider` in place of the SDK's) and carries the fields the
OTLP encoders read from a finished span (``context``, ``parent``, ``attributes``, ``resource``,
``instrumentation_scope``, ...). ``end()`` stamps the time and hands the span itself to the batch
processor: no copy, no lock (a span belongs to the call that opened it, on one thread).

What is kept from the SDK: its samplers (a new trace, or any sampler that does not follow the
parent, is decided by the configured one), its id scheme (random ids; a new trace's flags say the
trace id is random), its default limits (128 attributes, events and links; the oldest attribute
makes way, as the SDK's mapping does), its cleaning of attribute values that are not plain
strings, numbers or booleans, and ignoring calls after ``end()``.

What is not kept is free text from errors (docs/decisions.md, Observability): a status description
is kept only when it is one the runtime writes itself (a gRPC status code's name, as the server
span's; an exception's class name through :func:`mark_error`). Any other, such as the SQLAlchemy
instrumentation's ``str(exception)`` (MariaDB quotes the values in it) or the grpc client
instrumentation's status details, is dropped and the span keeps the code alone (ERROR). An
exception is recorded as the semantic conventions' ``exception`` event with its type only, never
its message or stack trace, and only when an instrumentation asks for it explicitly: tracers
default to ``record_exception=False``, and a ``with`` block that raises sets ERROR with the
exception's class name.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from time import time_ns
from types import TracebackType
from typing import Any, cast

import grpc
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types
from opentelemetry.util._decorator import _agnosticcontextmanager

from services.runtime.telemetry.sampling import SkipUnparentedClientSpans
from services.runtime.telemetry.trace_context import valid_span_context

log = logging.getLogger("tenantmesh.telemetry")

# The SDK's defaults (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, ..._EVENT_..., ..._LINK_...).
MAX_ATTRIBUTES = 128
MAX_EVENTS = 128
MAX_LINKS = 128
_PLAIN_VALUES = (str, int, float, bool)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_NOT_SAMPLED_RANDOM = TraceFlags(TraceFlags.RANDOM_TRACE_ID)
# A child's flags are its parent's sampled and random-trace-id bits (as _flags() decides them),
# looked up by those two bits.
_CHILD_FLAG_BITS = TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID
_CHILD_FLAGS = (_NOT_SAMPLED, _SAMPLED, _NOT_SAMPLED_RANDOM, _SAMPLED_RANDOM)
# Every span's status until it is set: the encoder knows it by identity.
UNSET_STATUS = Status(StatusCode.UNSET)
# An error whose description was dropped (see the module docstring).
_ERROR_STATUS = Status(StatusCode.ERROR)
# The descriptions set_status keeps: what the runtime writes itself (the server span's gRPC code).
# Exceptions' class names go through mark_error, not through this set.
KEPT_DESCRIPTIONS = frozenset(code.name for code in grpc.StatusCode)
_getrandbits = random.getrandbits


def _plain(attributes: Mapping[str, Any]) -> bool:
    """Only non-empty string keys and str, int, float or bool values: kept as they are."""
    for key, value in attributes.items():
        if type(value) not in _PLAIN_VALUES or type(key) is not str or not key:
            return False
    return True


def _cleaned(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """The attributes as the SDK would keep them: plain values as they are, the rest through the
    API's cleaning (sequences to tuples, other objects to strings, invalid keys dropped)."""
    return attributes if _plain(attributes) else BoundedAttributes(None, attributes, immutable=False)


def _frozen(attributes: types.Attributes) -> BoundedAttributes:
    # Events' and links' attributes, as the SDK keeps them (immutable, cleaned).
    return BoundedAttributes(MAX_ATTRIBUTES, attributes, immutable=True)


class LeanSpan(trace.Span):
    """A recording span, and the finished span the exporter encodes (see the module docstring)."""

    # What every span sets. What few spans change (events, links, a status, counts of dropped
    # items, how exceptions are recorded) is the class's value until it changes, then the
    # instance's own (the API's Span has no slots, so instances have a dictionary): a server span
    # costs ten stores.
    __slots__ = (
        "_emit",
        "attributes",
        "context",
        "end_time",
        "instrumentation_scope",
        "kind",
        "name",
        "parent",
        "resource",
        "start_time",
    )
    events: Sequence[Event] = ()
    links: Sequence[Link] = ()
    dropped_attributes = 0
    dropped_events = 0
    dropped_links = 0
    status = UNSET_STATUS
    _record_exception = False
    _set_status_on_exception = True

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        tracer: LeanTracer,
        start_time: int,
    ) -> None:
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.resource = tracer.resource
        self.instrumentation_scope = tracer.instrumentation_scope
        self.attributes = attributes
        self.start_time = start_time
        self.end_time: int | None = None
        self._emit = tracer.emit
        if len(attributes) > MAX_ATTRIBUTES:
            excess = len(attributes) - MAX_ATTRIBUTES
            for key in list(attributes)[:excess]:
                del attributes[key]
            self.dropped_attributes = excess

    # -- the API's Span ---------------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if self.end_time is None:
            self.set_plain_attributes(_cleaned(attributes))

    def set_plain_attributes(self, attributes: Mapping[str, Any]) -> None:
        """``set_attributes`` for values known to be clean: the runtime's own plain strings and
        integers under non-empty keys, or what ``_cleaned`` left."""
        if self.end_time is not None:
            return
        if len(self.attributes) + len(attributes) <= MAX_ATTRIBUTES:
            self.attributes.update(attributes)
            return
        for key, value in attributes.items():
            self._set_bounded(key, value)

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self.end_time is not None:
            return
        if type(value) not in _PLAIN_VALUES or type(key) is not str or not key:
            self.set_attributes({key: value})
        else:
            self._set_bounded(key, value)

    def _set_bounded(self, key: str, value: Any) -> None:
        own = self.attributes
        if key not in own and len(own) >= MAX_ATTRIBUTES:
            del own[next(iter(own))]  # the oldest makes way, as in the SDK's BoundedAttributes
            self.dropped_attributes += 1
        own[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self.end_time is not None:
            return
        if len(self.events) >= MAX_EVENTS:
            self.dropped_events += 1
            return
        event = Event(name, _frozen(attributes), time_ns() if timestamp is None else timestamp)
        if isinstance(self.events, list):
            self.events.append(event)
        else:  # the class's empty default: the span's own list from now on
            self.events = [event]

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self.end_time is not None:
            return
        if context is None or (not context.is_valid and not attributes):
            return  # the SDK keeps a link only to a valid span context or one carrying attributes
        if len(self.links) >= MAX_LINKS:
            self.dropped_links += 1
            return
        link = Link(context, _frozen(attributes))
        if isinstance(self.links, list):
            self.links.append(link)
        else:  # the class's empty default: the span's own list from now on
            self.links = [link]

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rules: OK is final, UNSET never replaces anything.
        if self.end_time is not None or self.status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is StatusCode.UNSET:
            return
        # Only an ERROR has a description (the API's Status drops any other's). Free text of an
        # instrumentation's (an exception's message, a peer's status details) is not kept: the
        # span is an error, and stays the error the runtime described if it already is one.
        kept = status.description
        if kept is not None and kept not in KEPT_DESCRIPTIONS:
            if self.status.status_code is StatusCode.ERROR:
                return
            status = _ERROR_STATUS
        self.status = status

    def mark_error(self, exception: BaseException) -> None:
        """ERROR, described by ``exception``'s class name (never its message)."""
        if self.end_time is None and self.status.status_code is not StatusCode.OK:
            self.status = Status(StatusCode.ERROR, type(exception).__name__)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        # The SDK's exception event (semantic conventions' names) without the message and the
        # stack trace, which can hold request data (decisions: exceptions are in the logs), for the
        # instrumentations that record one explicitly; the runtime's own spans never do.
        module, qualname = type(exception).__module__, type(exception).__qualname__
        event: dict[str, types.AnyValue] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            log.debug("span %s ended twice", self.name)
            return
        self.end_time = time_ns() if end_time is None else end_time
        self._emit(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and self.end_time is None:
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_on_exception:
                self.mark_error(exc_val)
        super().__exit__(exc_type, exc_val, exc_tb)  # ends the span

    def __repr__(self) -> str:
        return f"LeanSpan(name={self.name!r}, context={self.context!r})"


class LeanTracer(trace.Tracer):
    """Starts :class:`LeanSpan`s: the SDK tracer's decisions (sampler, ids, flags), not its span."""

    def __init__(
        self,
        *,
        sampler: SkipUnparentedClientSpans,
        processor: SpanProcessor,
        resource: Resource,
        instrumentation_scope: InstrumentationScope,
    ) -> None:
        self._sampler = sampler
        # A parent-based sampler's answer under a valid parent is the parent's sampled flag (and
        # its trace state): known without asking it.
        self._follows_parent = sampler.follows_parent
        self.emit = _ended_span_sink(processor)
        self.resource = resource
        self.instrumentation_scope = instrumentation_scope

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = False,
        set_status_on_exception: bool = True,
    ) -> LeanSpan | trace.NonRecordingSpan:
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        assert parent is not None
        if parent.is_valid and self._follows_parent:
            span = self._under_parent(name, parent, kind, dict(_cleaned(attributes)) if attributes else {}, start_time)
            return _with_options(span, links, record_exception, set_status_on_exception)
        if not parent.is_valid:
            parent = None
            trace_id = _new_id(128)
        else:
            trace_id = parent.trace_id
        result = self._sampler.should_sample(context, trace_id, name, kind, attributes, links)
        sampled = result.decision is Decision.RECORD_AND_SAMPLE
        span_context = SpanContext(trace_id, _new_id(64), False, _flags(sampled, parent), result.trace_state)
        if not sampled:
            # Dropped (or RECORD_ONLY, which no sampler here answers: such a span would be recorded
            # and never exported).
            return trace.NonRecordingSpan(span_context)
        span = LeanSpan(
            name,
            span_context,
            parent,
            kind,
            dict(_cleaned(result.attributes)) if result.attributes else {},
            self,
            time_ns() if start_time is None else start_time,
        )
        return _with_options(span, links, record_exception, set_status_on_exception)

    def start_server_span(
        self, name: str, parent: SpanContext | None, attributes: Mapping[str, str]
    ) -> LeanSpan | trace.NonRecordingSpan:
        """``start_span(name, context, SpanKind.SERVER, attributes)`` for a call whose caller's span
        context was read from its ``traceparent`` (None: a new trace), without the context object a
        propagator builds around it when the sampler only has to look at its flags. The attributes
        are the runtime's own strings: copied, not cleaned."""
        if parent is not None and self._follows_parent:
            return self._under_parent(name, parent, SpanKind.SERVER, dict(attributes))
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent is not None else None
        return self.start_span(name, context, SpanKind.SERVER, attributes)

    def _under_parent(
        self,
        name: str,
        parent: SpanContext,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_time: int | None = None,
    ) -> LeanSpan | trace.NonRecordingSpan:
        # What a parent-based sampler answers (the parent's decision and trace state), unasked.
        # ``attributes`` is the span's own dict, already cleaned. The parent's trace id (0), flags
        # (3) and trace state (4) are read as tuple items (a SpanContext is a tuple, see
        # valid_span_context): this runs for every traced call, and each property call here is a
        # measurable part of what tracing a call costs.
        flags = _CHILD_FLAGS[parent[3] & _CHILD_FLAG_BITS]
        span_id = _getrandbits(64) or _new_id(64)
        span_context = valid_span_context(parent[0], span_id, False, flags, parent[4])
        if flags is _NOT_SAMPLED or flags is _NOT_SAMPLED_RANDOM:
            return trace.NonRecordingSpan(span_context)
        return LeanSpan(
            name, span_context, parent, kind, attributes, self, time_ns() if start_time is None else start_time
        )

    @_agnosticcontextmanager  # what the API's Tracer declares (a context manager and decorator)
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = False,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        # The API's use_span would describe the status with the exception's message: the span's
        # own mark_error describes it by class name.
        with trace.use_span(
            span, end_on_exit=end_on_exit, record_exception=record_exception, set_status_on_exception=False
        ) as current:
            try:
                yield current
            except Exception as exc:  # as use_span: not BaseException (GeneratorExit is no error)
                if set_status_on_exception:
                    mark_error(current, exc)
                raise


def _with_options(
    span: LeanSpan | trace.NonRecordingSpan,
    links: Sequence[Link] | None,
    record_exception: bool,
    set_status_on_exception: bool,
) -> LeanSpan | trace.NonRecordingSpan:
    """``start_span``'s links and exception options, on a span that records (they are rare)."""
    if isinstance(span, LeanSpan):
        for link in links or ():
            span.add_link(link.context, link.attributes)
        if record_exception:
            span._record_exception = True
        if not set_status_on_exception:
            span._set_status_on_exception = False
    return span


def mark_error(span: trace.Span, exception: BaseException) -> None:
    """Marks ``span`` an error described by ``exception``'s class name alone (any span: the lean
    span's own path, which set_status's filter does not apply to; another span's set_status)."""
    if isinstance(span, LeanSpan):
        span.mark_error(exception)
    elif span.is_recording():
        span.set_status(Status(StatusCode.ERROR, type(exception).__name__))


def _ended_span_sink(processor: SpanProcessor) -> Callable[[LeanSpan], None]:
    """Where an ended span goes. The SDK's batch processor checks on every span that it is sampled
    before it queues it; a LeanSpan always is (an unsampled span is never one), so the batch
    processor's queue is handed the span directly."""
    # A LeanSpan is read as a ReadableSpan (duck-typed).
    if type(processor) is BatchSpanProcessor:
        return cast(Callable[[LeanSpan], None], processor._batch_processor.emit)
    return cast(Callable[[LeanSpan], None], processor.on_end)


def _new_id(bits: int) -> int:
    # The SDK's RandomIdGenerator: random bits, never the invalid id 0.
    value = _getrandbits(bits)
    while not value:
        value = _getrandbits(bits)
    return value


def _flags(sampled: bool, parent: SpanContext | None) -> TraceFlags:
    # As the SDK's tracer: a new trace's id is random (W3C level 2 flag); a child keeps its parent's.
    random_id = parent is None or parent.trace_flags.random_trace_id
    if sampled:
        return _SAMPLED_RANDOM if random_id else _SAMPLED
    return _NOT_SAMPLED_RANDOM if random_id else _NOT_SAMPLED


class LeanTracerProvider(trace.TracerProvider):
    """One service's tracers (its resource), all ending spans into one span processor."""

    def __init__(self, *, sampler: SkipUnparentedClientSpans, resource: Resource, processor: SpanProcessor) -> None:
        self.sampler = sampler
        self.resource = resource
        self._processor = processor
        self._tracers: dict[tuple[str, str | None, str | None], LeanTracer] = {}

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> LeanTracer:
        key = (instrumenting_module_name, instrumenting_library_version, schema_url)
        tracer = None if attributes else self._tracers.get(key)
        if tracer is None:
            scope = InstrumentationScope(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
            tracer = LeanTracer(
                sampler=self.sampler,
                processor=self._processor,
                resource=self.resource,
                instrumentation_scope=scope,
            )
            if not attributes:
                self._tracers[key] = tracer
        return tracer
