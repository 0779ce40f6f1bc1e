"""A local OTLP trace receiver (gRPC and HTTP) that only counts spans, in a process of its own.

    python -m tests.bench.otlp_sink      prints "port <grpc port> <http port>", then serves until SIGTERM/SIGINT

The observability benchmark exports to it, so the service process pays for producing and
sending spans but not for receiving them.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class CountingReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans = 0

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        return trace_service_pb2.ExportTraceServiceResponse()


def http_receiver(receiver: CountingReceiver) -> ThreadingHTTPServer:
    """OTLP/HTTP (protobuf) on a thread: POST /v1/traces."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            receiver.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def serve() -> None:
    receiver = CountingReceiver()
    http = http_receiver(receiver)
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"port {port} {http.server_address[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    print(f"spans {receiver.spans}", file=sys.stderr, flush=True)
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(serve())
