"""Telemetry hook point: every finished call is reported to a CallObserver.

The default observer logs each call at debug level and keeps per-method
counters; a metrics or tracing exporter plugs in by implementing the protocol.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import grpc

from services.runtime.context import traceparent_var

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall

log = logging.getLogger("tenantmesh.calls")


class CallObserver(Protocol):
    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None: ...


@dataclass
class MethodStats:
    calls: int = 0
    errors: int = 0
    total_seconds: float = 0.0


class LoggingObserver:
    def __init__(self) -> None:
        self.stats: defaultdict[str, MethodStats] = defaultdict(MethodStats)

    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        stats = self.stats[call.method]
        stats.calls += 1
        stats.total_seconds += seconds
        if code != grpc.StatusCode.OK:
            stats.errors += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "call finished",
                extra={"method": call.method, "code": code.name, "ms": round(seconds * 1000, 3)},
            )


# What may be passed on as a caller's traceparent: W3C's shape (lower-case hex fields; a later
# version may add fields after the fourth). Anything else is dropped: it would travel in every
# outgoing call and be stored with every event the call writes, at a size of the caller's choosing.
MAX_TRACEPARENT = 128
_PASSABLE_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-[0-9a-f-]{1,64})?")


async def trace_context_stage(call: IncomingCall) -> None:
    """Keeps the W3C trace context of the call so outgoing calls continue the trace."""
    traceparent = call.metadata.get("traceparent", "")
    if traceparent and not _PASSABLE_TRACEPARENT.fullmatch(traceparent):
        # Read as parse_traceparent reads it (any case, blanks around), and passed on as W3C's;
        # a caller-sized value is dropped before any work proportional to its size.
        traceparent = traceparent.strip().lower() if len(traceparent) <= MAX_TRACEPARENT else ""
        if not _PASSABLE_TRACEPARENT.fullmatch(traceparent):
            traceparent = ""
    traceparent_var.set(traceparent)
