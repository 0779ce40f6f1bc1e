"""Outgoing calls: channels that carry the current call's context along.

Every call a service makes while handling a request copies the tenant, the
caller's credentials, the request id and the trace context, so the next
service sees the same caller and the logs line up across services. Metadata
the caller sets explicitly wins over the copied values.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from services.runtime.context import authorization_var, request_id_var, tenant_var, traceparent_var
from services.runtime.failover import Failover, FailoverUnaryUnary
from services.runtime.mesh_tls import MeshTls, channel_credentials


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


def _interceptors(extra: Sequence[grpc.aio.ClientInterceptor]) -> list[grpc.aio.ClientInterceptor]:
    return [ContextPropagatingUnaryUnary(), ContextPropagatingUnaryStream(), *extra]


def create_channel(target: str, extra: Sequence[grpc.aio.ClientInterceptor] = ()) -> grpc.aio.Channel:
    """A plaintext channel: only with mesh TLS off (tests and benchmarks on one machine).

    ``extra`` interceptors run inside the context-propagating ones (tracing: a client span per call).
    """
    return grpc.aio.insecure_channel(target, options=list(CHANNEL_OPTIONS), interceptors=_interceptors(extra))


def create_mesh_channel(
    target: str,
    service: str,
    credentials: grpc.ChannelCredentials,
    extra: Sequence[grpc.aio.ClientInterceptor] = (),
) -> grpc.aio.Channel:
    """A mutual-TLS channel to ``service`` at ``target``.

    The server's certificate is checked against the service's name (a DNS SAN every service
    certificate carries), not against the address, so the same certificate serves whatever
    address the service is reached at. A local subchannel pool: a channel made with new
    credentials after a rotation opens new connections rather than reusing the old ones.
    """
    options = [*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", service), ("grpc.use_local_subchannel_pool", 1)]
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=_interceptors(extra))


# How often a pooled mesh channel looks whether its certificate files were replaced.
_RELOAD_CHECK_SECONDS = 1.0


@dataclass
class _Pooled:
    channel: grpc.aio.Channel
    stamp: tuple[int, ...] = ()
    checked_at: float = 0.0


class ChannelPool:
    """One long-lived channel per (caller, target), shared by every caller in the process.

    With mesh TLS each channel presents the calling service's certificate; when its files
    are replaced (rotation) the next call gets a new channel and the old one is closed when
    the pool is (calls in flight on it finish).
    """

    def __init__(
        self,
        mesh_tls: MeshTls | None = None,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
        failover: Failover | None = None,
    ) -> None:
        self._tls = mesh_tls
        self._interceptors = tuple(interceptors)
        # With it, a channel to a service's instance sends a call that instance could not take to
        # another known instance (services/runtime/failover.py).
        self._failover = failover
        self._channels: dict[tuple[str, str], _Pooled] = {}
        self._retired: list[grpc.aio.Channel] = []

    def get(self, target: str, service: str = "", caller: str = "") -> grpc.aio.Channel:
        """A channel to ``service`` at ``target``, presenting ``caller``'s certificate (mesh TLS)."""
        if self._tls is None:
            key = ("", target)
            pooled = self._channels.get(key)
            if pooled is None:
                pooled = self._channels[key] = _Pooled(create_channel(target, self._extra(target, service, caller)))
            return pooled.channel
        key = (caller, target)
        pooled = self._channels.get(key)
        now = time.monotonic()
        if pooled is not None and now - pooled.checked_at < _RELOAD_CHECK_SECONDS:
            return pooled.channel
        stamp = tuple(part for item in self._tls.stamp(caller) for part in item)
        if pooled is not None and pooled.stamp == stamp:
            pooled.checked_at = now
            return pooled.channel
        credentials, read_stamp = channel_credentials(self._tls, caller)
        if pooled is not None:
            self._retired.append(pooled.channel)
        self._channels[key] = _Pooled(
            create_mesh_channel(target, service, credentials, self._extra(target, service, caller)), read_stamp, now
        )
        return self._channels[key].channel

    @property
    def failover(self) -> Failover | None:
        return self._failover

    def _extra(self, target: str, service: str, caller: str) -> tuple[grpc.aio.ClientInterceptor, ...]:
        if self._failover is None or not service:
            return self._interceptors
        # Innermost: it sees the metadata the outer interceptors added, and each attempt gets its own span.
        return (
            *self._interceptors,
            FailoverUnaryUnary(service, target, self._failover, lambda other: self.get(other, service, caller)),
        )

    async def close(self) -> None:
        for pooled in self._channels.values():
            await pooled.channel.close()
        for channel in self._retired:
            await channel.close()
        self._channels.clear()
        self._retired.clear()
