"""Several call observers as one (logging, metrics, tracing: one concern each)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc

from services.runtime.interceptors.telemetry import CallObserver

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall


class Observers:
    def __init__(self, observers: Sequence[CallObserver]) -> None:
        self._observers = tuple(observers)

    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        for observer in self._observers:
            observer.finished(call, code, seconds)
