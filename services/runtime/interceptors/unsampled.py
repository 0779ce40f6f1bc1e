"""Unsampled calls: no instrumentation below them either (only installed when tracing is on).

A call whose caller decided not to sample its trace (``traceparent`` flags 00) gets no server
span (see telemetry.tracing.traced_call); this stage also switches the SQL and Redis
instrumentations off for the rest of the call. Their spans would have no recording parent
and be dropped anyway; skipping them saves their cost on every statement of the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry import context

# The instrumentations' own off switch (opentelemetry.instrumentation.utils.is_instrumentation_enabled).
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall


async def unsampled_call_stage(call: IncomingCall) -> None:
    if call.metadata.get("traceparent", "").endswith("-00"):
        # Each call runs in a task of its own: the value ends with the call, nothing to detach.
        context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
