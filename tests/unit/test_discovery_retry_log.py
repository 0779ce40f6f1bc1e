"""Start-up retries log one line: a gRPC error's code and details, not its multi-line
debug string (the registry-not-reachable-yet lines of `make run` carried it)."""

from __future__ import annotations

import grpc

from services.runtime.discovery import _brief


def test_a_grpc_error_is_one_line() -> None:
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="failed to connect to all addresses",
        debug_error_string="UNKNOWN:Error received from peer {created_time:...}\n  more",
    )
    assert _brief(error) == "UNAVAILABLE: failed to connect to all addresses"


def test_another_error_names_its_type() -> None:
    assert _brief(ValueError("no service API key")) == "ValueError: no service API key"
