"""Outgoing calls: channels that carry the current call's context along.

Every call a service makes while handling a request copies the tenant, the
caller's credentials, the request id and the trace context, so the next
service sees the same caller and the logs line up across services. Metadata
the caller sets explicitly wins over the copied values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from services.runtime.context import authorization_var, request_id_var, tenant_var, traceparent_var


def propagated_metadata() -> list[tuple[str, str]]:
    metadata: list[tuple[str, str]] = []
    tenant = tenant_var.get()
    if tenant is not None:
        metadata.append(("x-tenant-id", tenant.tenant_id))
    for key, var in (
        ("authorization", authorization_var),
        ("x-request-id", request_id_var),
        ("traceparent", traceparent_var),
    ):
        value = var.get()
        if value:
            metadata.append((key, value))
    return metadata


def _with_context(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    explicit = list(details.metadata or ())
    present = {key for key, _ in explicit}
    merged = explicit + [(k, v) for k, v in propagated_metadata() if k not in present]
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=grpc.aio.Metadata(*merged),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class ContextPropagatingUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_context(client_call_details), request)


class ContextPropagatingUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_context(client_call_details), request)


CHANNEL_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


def create_channel(target: str, extra: Sequence[grpc.aio.ClientInterceptor] = ()) -> grpc.aio.Channel:
    """An insecure channel for calls inside the mesh (Envoy terminates TLS at the edge).

    ``extra`` interceptors run inside the context-propagating ones (tracing: a client span per call).
    """
    return grpc.aio.insecure_channel(
        target,
        options=list(CHANNEL_OPTIONS),
        interceptors=[ContextPropagatingUnaryUnary(), ContextPropagatingUnaryStream(), *extra],
    )


class ChannelPool:
    """One long-lived channel per target, shared by every caller in the process."""

    def __init__(self, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._interceptors = tuple(interceptors)

    def get(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            channel = self._channels[target] = create_channel(target, self._interceptors)
        return channel

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
