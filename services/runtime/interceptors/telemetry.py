"""Telemetry hook point: every finished call is reported to a CallObserver.

The default observer logs each call at debug level and keeps per-method
counters; a metrics or tracing exporter plugs in by implementing the protocol.
"""

from __future__ import annotations

import logging
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


async def trace_context_stage(call: IncomingCall) -> None:
    """Keeps the W3C trace context of the call so outgoing calls continue the trace."""
    traceparent_var.set(call.metadata.get("traceparent", ""))
