"""A real HTTPS endpoint for webhook tests: records every POST and answers with programmed statuses.

A receiver may also be made slow (``drip_seconds``): it answers 200 at once, then sends its body
a byte every 0.2 s for that long, as an endpoint that wants to hold the platform's sender would.

It runs the standard library's HTTP server on a thread, with a certificate for
127.0.0.1 from a private CA the platform is told to trust
(TENANTMESH_WEBHOOKS_CA_FILE), so deliveries go over real TLS.
"""

from __future__ import annotations

import asyncio
import http.server
import queue
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from services.mesh.devtls import DevTls, ensure_dev_tls

_DRIP_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self, tls_directory: Path) -> None:
        self.tls: DevTls = ensure_dev_tls(tls_directory)
        self._received: queue.Queue[Received] = queue.Queue()
        # Statuses to answer, in order; 204 once they run out.
        self.statuses: deque[int] = deque()
        # Seconds to drip the answer's body for (0: an empty body at once).
        self.drip_seconds = 0.0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                receiver._received.put(
                    Received(self.path, {name.lower(): value for name, value in self.headers.items()}, body)
                )
                if receiver.drip_seconds:
                    self._drip(receiver.drip_seconds)
                    return
                status = receiver.statuses.popleft() if receiver.statuses else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def _drip(self, seconds: float) -> None:
                count = int(seconds / _DRIP_INTERVAL_SECONDS)
                self.send_response(200)
                self.send_header("content-length", str(count))
                self.end_headers()
                try:
                    for _ in range(count):
                        self.wfile.write(b".")
                        self.wfile.flush()
                        time.sleep(_DRIP_INTERVAL_SECONDS)
                except OSError:
                    return  # the sender gave up on the answer: what a slow endpoint should meet

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/hooks"

    async def next(self, wait_seconds: float = 10.0) -> Received:
        """The next POST received (raises queue.Empty after ``wait_seconds``)."""
        return await asyncio.to_thread(self._received.get, True, wait_seconds)

    def nothing_more(self) -> bool:
        return self._received.empty()

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
