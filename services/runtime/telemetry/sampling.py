"""Which spans are kept.

The standard samplers decide per trace; one rule is added in front of them: a client span
(SQL, Redis, an outgoing gRPC call) that has no parent is dropped. Such a span is background
work polling something — the outbox relay's SELECT every second, a blocking XREADGROUP, a
heartbeat — and kept at any ratio it would bury the traces that matter. Work that deserves a
trace of its own opens a span of another kind first (an event consumer's span, say), and
whatever it calls is traced below it as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from services.runtime.telemetry.settings import TracingSettings


def standard_sampler(settings: TracingSettings) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` name."""
    return {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(settings.ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(settings.ratio)),
    }[settings.sampler]


class SkipUnparentedClientSpans(Sampler):
    def __init__(self, inner: Sampler) -> None:
        self._inner = inner
        # Under a valid parent the answer is the parent's sampled flag: the standard samplers are
        # parent-based with the default delegates (keep a sampled parent's trace, drop the rest).
        self.follows_parent = isinstance(inner, ParentBased)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT and not trace.get_current_span(parent_context).get_span_context().is_valid:
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"SkipUnparentedClientSpans{{{self._inner.get_description()}}}"
