"""Service-to-service calls move off a dead replica at once, without waiting for the registry.

The resolver learns every healthy instance of a service from the registry (:meth:`Failover.learn`)
but points the service's address at one of them. When that one dies, the registry notices only
after its probes fail (interval x threshold + timeout) and the resolver only at its next refresh:
up to ~47 s with production's settings. Instead, a call that fails with UNAVAILABLE raised by the
caller's own transport (no status details: the server never answered) marks the address as failed
for a short while, points the service's address at another known instance at once (every later
call goes there) and is sent once more there when that cannot do a write twice: the connection
was never made (the server cannot have seen the call), or the method only reads.

Why not hand gRPC every instance (round_robin over an ``ipv4:`` target): instances advertise
host names as well as addresses (``TENANTMESH_ADVERTISE_HOST``, the static addresses in deploy/
are DNS names), and gRPC's multi-address targets take IP literals only; a channel per instance set
would also be rebuilt at every change of the set. Here each instance keeps its own pooled channel.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from services.runtime.access import policy_of

log = logging.getLogger("tenantmesh.failover")

# How long an address that failed a call is passed over when another instance is known: a
# resolver refresh in that time does not point the service back at it while the registry still
# lists it (the caller stays where it moved after the hold too, as long as that instance works);
# short, so that a replica restarted at the same address is a choice again soon.
FAILED_HOLD_SECONDS = 10.0

# Set while a call is sent the second time: the retry itself is never retried.
_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar("failover_retrying", default=False)

# Standard methods that only read (AIP-131/132): safe to send again even if the first attempt
# reached a server; the read_only access option and the protobuf idempotency level say the same.
_READING_VERBS = ("Get", "List", "BatchGet", "Search", "Resolve")
_SAFE_LEVELS = (descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS, descriptor_pb2.MethodOptions.IDEMPOTENT)


class Failover:
    """The known instances of each remote service, and the ones that just failed a call."""

    def __init__(self, addresses: dict[str, str], hold_seconds: float = FAILED_HOLD_SECONDS) -> None:
        self._addresses = addresses
        self._hold = hold_seconds
        self._known: dict[str, tuple[str, ...]] = {}
        self._failed_until: dict[str, float] = {}

    def learn(self, service: str, instances: Sequence[str]) -> None:
        """The healthy instances the registry gave for ``service`` (empty: none known)."""
        self._known[service] = tuple(instances)

    def known(self, service: str) -> tuple[str, ...]:
        return self._known.get(service, ())

    def failed(self, address: str) -> bool:
        until = self._failed_until.get(address)
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        del self._failed_until[address]
        return False

    def choose(self, service: str, current: str, instances: Sequence[str]) -> str:
        """Which of ``instances`` (non-empty) to use: the current one while it works, else the
        first not recently failed (all failed: the registry's word wins over the caller's)."""
        usable = [a for a in instances if not self.failed(a)] or list(instances)
        return current if current in usable else usable[0]

    def reroute(self, service: str, address: str) -> str | None:
        """``address`` failed a call to ``service``: the instance to use instead, if one is known.

        The service's address is moved there unless another call already moved it elsewhere.
        """
        self._failed_until[address] = time.monotonic() + self._hold
        others = [a for a in self.known(service) if a != address and not self.failed(a)]
        if not others:
            return None
        current = self._addresses.get(service)
        chosen = current if current in others else others[0]
        if chosen != current:
            log.warning(
                "instance failed a call; moved", extra={"service": service, "failed": address, "address": chosen}
            )
            self._addresses[service] = chosen
        return chosen


def _never_connected(exc: grpc.aio.AioRpcError) -> bool:
    # gRPC core's wording when no connection to the address could be made; a connection cut
    # after the call was sent reads "Socket closed" / "Connection reset" instead.
    text = f"{exc.details()} {exc.debug_error_string()}".lower()
    return "failed to connect" in text or "connection refused" in text


def _from_transport(exc: grpc.aio.AioRpcError) -> bool:
    """UNAVAILABLE raised by this side's transport: a server's own UNAVAILABLE (a dependency
    of its down) carries google.rpc details and is not a dead instance."""
    if exc.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    trailing = exc.trailing_metadata() or ()
    return not any(key == "grpc-status-details-bin" for key, _ in trailing)


def _path(method: str | bytes) -> str:
    return method.decode() if isinstance(method, bytes) else method


@cache
def _method(path: str) -> Any:
    """The descriptor of ``/package.Service/Method``, or None for a method not in the pool."""
    service, _, name = path.lstrip("/").partition("/")
    try:
        return descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    except KeyError:
        return None


@cache
def only_reads(path: str) -> bool:
    method = _method(path)
    if method is None:
        return False
    policy = policy_of(method)
    if policy is not None and policy.read_only:
        return True
    if method.GetOptions().idempotency_level in _SAFE_LEVELS:
        return True
    return any(
        method.name.startswith(verb) and method.name[len(verb) : len(verb) + 1].isupper() for verb in _READING_VERBS
    )


class FailoverUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    """On one channel to ``target`` (an instance of ``service``): a call the instance could not
    take goes to another known instance, once, when sending it again is safe."""

    def __init__(
        self, service: str, target: str, failover: Failover, channel: Callable[[str], grpc.aio.Channel]
    ) -> None:
        self._service = service
        self._target = target
        self._failover = failover
        self._channel = channel

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        started = time.monotonic()
        call = await continuation(client_call_details, request)
        if _retrying.get():
            return call
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            if not _from_transport(exc):
                raise
            # Every later call moves at once, whether or not this one may be sent again.
            other = self._failover.reroute(self._service, self._target)
            path = _path(client_call_details.method)
            if other is None or not (_never_connected(exc) or only_reads(path)) or _method(path) is None:
                raise
            return await self._again(other, client_call_details, request, started)
        return call

    async def _again(self, address: str, details: Any, request: Any, started: float) -> Any:
        path = _path(details.method)
        timeout = details.timeout
        if timeout is not None:
            timeout = max(0.0, timeout - (time.monotonic() - started))
        response_class = message_factory.GetMessageClass(_method(path).output_type)
        send = self._channel(address).unary_unary(
            path, request_serializer=type(request).SerializeToString, response_deserializer=response_class.FromString
        )
        token = _retrying.set(True)
        try:
            return send(
                request,
                timeout=timeout,
                metadata=details.metadata,
                credentials=details.credentials,
                wait_for_ready=details.wait_for_ready,
            )
        finally:
            _retrying.reset(token)
