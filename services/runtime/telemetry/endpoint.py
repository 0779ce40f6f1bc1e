"""The process's Prometheus endpoint: ``GET /metrics`` on its own port (127.0.0.1 by default)."""

from __future__ import annotations

import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from services.runtime.telemetry.metrics import Metrics
from services.runtime.telemetry.settings import MetricsSettings

log = logging.getLogger("tenantmesh.metrics")


class MetricsEndpoint:
    """Served from a thread of its own: a scrape never waits on the event loop."""

    def __init__(self, server: WSGIServer, thread: threading.Thread, host: str) -> None:
        self._host = host
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/metrics"

    @classmethod
    def start(cls, settings: MetricsSettings, metrics: Metrics) -> MetricsEndpoint | None:
        if settings.port is None:
            return None
        server, thread = start_http_server(settings.port, settings.host, registry=metrics.registry)
        endpoint = cls(server, thread, settings.host)
        log.info("metrics on %s", endpoint.url)
        return endpoint

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
