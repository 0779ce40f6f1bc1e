"""Metrics: every answered call is counted by service, method and code, and timed; failures by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from services.runtime.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall


class MetricsObserver:
    def __init__(self, metrics: Metrics) -> None:
        self._record = metrics.rpc.record

    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        self._record(call.method, code, seconds, call.error_reason)
