"""Events in traces and metrics.

An event carries the trace context of the transaction that wrote it (its envelope's
``traceparent``, stored in the outbox with it). Relaying it opens a producer span *in that
trace*, so the trace of a request shows its events leaving. Handling it opens a consumer span
that starts a trace of its own and *links* to the writer's span: a consumer may run seconds
later, retried, in another process, and "who caused this provisioning step" is one click away
without stretching the request's trace over all of that.

A handler that fails makes its consumer span an error described by the exception's class name
alone: no message, no stack trace (they can hold the event's data; the log has them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Tracer
from prometheus_client import Counter

from services.runtime.telemetry.lean_spans import mark_error
from services.runtime.telemetry.trace_context import link_to, remote_parent

if TYPE_CHECKING:
    from services.runtime.events import Event
    from services.runtime.telemetry.metrics import Metrics


class EventTelemetry:
    def __init__(self, system: str = "inprocess") -> None:
        self._tracer: Tracer | None = None
        self._metrics: Metrics | None = None
        self._system = system
        self._handled: dict[tuple[str, str], Counter] = {}
        self._dead_lettered: dict[str, Counter] = {}

    def attach(self, tracer: Tracer | None, metrics: Metrics | None) -> None:
        """Spans from ``tracer`` (None: tracing is off) and counts into ``metrics``."""
        self._tracer = tracer
        self._metrics = metrics
        self._handled.clear()
        self._dead_lettered.clear()

    @contextlib.contextmanager
    def publishing(self, event: Event, destination: str) -> Iterator[None]:
        if self._metrics is not None:
            self._metrics.events_published.inc()
        parent = remote_parent(event.traceparent) if self._tracer is not None else None
        if self._tracer is None or parent is None:
            yield
            return
        with self._tracer.start_as_current_span(
            f"publish {event.type}",
            context=trace.set_span_in_context(parent),
            kind=SpanKind.PRODUCER,
            attributes=self._attributes(event, destination, "publish"),
        ):
            yield

    @contextlib.contextmanager
    def handling(self, event: Event, destination: str, group: str) -> Iterator[None]:
        """A consumer span around one delivery of ``event`` to ``group`` (the handler's calls nest in it)."""
        if self._tracer is None:
            yield
            return
        attributes = self._attributes(event, destination, "process")
        attributes["messaging.consumer.group.name"] = group
        with self._tracer.start_as_current_span(
            f"process {event.type}",
            # A trace of its own (see the module docstring), linked to the writer's span.
            context=Context(),
            kind=SpanKind.CONSUMER,
            links=link_to(event.traceparent),
            attributes=attributes,
            # Whatever the tracer's defaults: the failure is described below, by class alone.
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except Exception as exc:
                mark_error(span, exc)
                raise

    def _attributes(self, event: Event, destination: str, operation: str) -> dict[str, str]:
        attributes = {
            "messaging.system": self._system,
            "messaging.operation.type": operation,
            "messaging.destination.name": destination,
            "messaging.message.id": event.id,
            "tenantmesh.event.type": event.type,
        }
        if event.tenant_id:
            attributes["tenantmesh.tenant_id"] = event.tenant_id
        if event.request_id:
            attributes["tenantmesh.request_id"] = event.request_id
        return attributes

    def handled(self, group: str, outcome: str) -> None:
        if self._metrics is not None:
            counter = self._handled.get((group, outcome))
            if counter is None:  # label children resolved once per (group, outcome), not per event
                counter = self._handled[group, outcome] = self._metrics.events_handled.labels(group, outcome)
            counter.inc()

    def dead_lettered(self, group: str) -> None:
        if self._metrics is not None:
            counter = self._dead_lettered.get(group)
            if counter is None:
                counter = self._dead_lettered[group] = self._metrics.events_dead_lettered.labels(group)
            counter.inc()
