"""Metrics: every answered call is counted by service, method and code, and timed; failures by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from prometheus_client import Counter, Histogram

from services.runtime.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall


def split_method(method: str) -> tuple[str, str]:
    """ "/pkg.Service/Method" -> ("pkg.Service", "Method")."""
    service, _, name = method.lstrip("/").partition("/")
    return service, name


class MetricsObserver:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        # Label children cached per (method, code): labels() costs a lock and a dict build each time.
        self._counters: dict[tuple[str, grpc.StatusCode], Counter] = {}
        self._timers: dict[str, Histogram] = {}
        self._errors: dict[tuple[str, str], Counter] = {}

    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        key = (call.method, code)
        counter = self._counters.get(key)
        if counter is None:
            service, name = split_method(call.method)
            counter = self._counters[key] = self._metrics.rpc_requests.labels(service, name, code.name)
        timer = self._timers.get(call.method)
        if timer is None:
            service, name = split_method(call.method)
            timer = self._timers[call.method] = self._metrics.rpc_duration.labels(service, name)
        counter.inc()
        timer.observe(seconds)
        if call.error_reason:
            # Reasons are a fixed enum: the children stay as few as methods x reasons.
            error_key = (call.method, call.error_reason)
            errors = self._errors.get(error_key)
            if errors is None:
                service, name = split_method(call.method)
                errors = self._errors[error_key] = self._metrics.rpc_errors.labels(service, name, call.error_reason)
            errors.inc()
