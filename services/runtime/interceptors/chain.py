"""Adapts the call stages to one grpc.aio server interceptor.

grpc.aio interceptors can only replace a method handler, so each concern is a
small :class:`CallStage` and this module wraps every served method once with
the whole chain. Stages run before the handler, in order, and communicate
with handlers only through context variables.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message

from services.runtime.access import MethodPolicy
from services.runtime.context import acting_service_var
from services.runtime.db.replica_reads import read_only_call
from services.runtime.errors import CommonReason, InvalidArgument
from services.runtime.interceptors.error_mapping import abort, error_for
from services.runtime.interceptors.identity import check_caller
from services.runtime.interceptors.telemetry import CallObserver
from services.runtime.interceptors.validation import validated_messages
from services.runtime.mesh_tls import peer_service
from services.runtime.shared_answers import SHARED_ANSWERS
from services.runtime.stream_errors import error_element
from services.runtime.telemetry.lean_spans import LeanSpan

Metadata = Mapping[str, str]


@dataclass
class IncomingCall:
    method: str
    policy: MethodPolicy
    metadata: dict[str, str]
    context: grpc.aio.ServicerContext[Any, Any]
    request: Message | None
    peer: str
    # The calling service as its verified mesh certificate names it (None: no mesh TLS, or not a
    # service of the platform's trust domain). Set by the identity stage.
    peer_service: str | None = None
    # Response metadata the stages want returned: in the trailers of a unary call,
    # before the first message of a stream.
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    # The ErrorInfo reason the call failed with ("" if it did not): observers count by it.
    error_reason: str = ""
    # The call's server span while it is being recorded (tracing on, trace sampled), else None.
    span: LeanSpan | None = None


class CallStage(Protocol):
    async def __call__(self, call: IncomingCall) -> None: ...


# A stage's check of a call it let in, repeated for every message of an open stream (a stage
# offers one as its ``recheck`` method): what it checked may have changed since the call began.
Recheck = Callable[[IncomingCall], Awaitable[None]]


class Undecodable:
    """Stands in for a request whose bytes are not a message of the method's input type.

    grpc.aio answers a deserializer that raises with UNKNOWN and logs a traceback per call;
    a malformed body is the caller's mistake, so the handler gets this instead and the call
    is answered INVALID_ARGUMENT before authentication (nothing about the caller is needed
    to say the bytes are not a message).
    """

    __slots__ = ()


UNDECODABLE = Undecodable()


def tolerant_deserializer(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # DecodeError, nesting beyond the parser's recursion limit, bad UTF-8, ...
            return UNDECODABLE

    return deserialize


async def _decoded(requests: AsyncIterator[Message | Undecodable]) -> AsyncIterator[Message]:
    """A client stream's messages, refusing the first whose bytes are not a message (as for unary calls)."""
    async for message in requests:
        if isinstance(message, Undecodable):
            raise _refuse_undecodable()
        yield message


def _refuse_undecodable() -> InvalidArgument:
    # The message names no type or parser: callers learn nothing about the server's internals.
    return InvalidArgument(
        "the request body is not a valid protobuf message for this method",
        reason=CommonReason.REQUEST_MALFORMED,
    )


def _text_metadata(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    """The call's text metadata, one value per key: the first, as the edge reads a header (its
    rate limit counts the first x-tenant-id a request carries, so the call is served as that
    tenant too, not as one named in a second copy of the header)."""
    metadata: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            metadata.setdefault(key.lower(), value)
    return metadata


class PipelineInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        policies: Mapping[str, MethodPolicy],
        first_stages: Sequence[CallStage],
        stages: Sequence[CallStage],
        observer: CallObserver,
        service: str = "tenantmesh",
        trust_domain: str | None = None,
    ) -> None:
        """``service``, ``trust_domain``: as the identity stage's, for methods on the edge's path."""
        # first_stages run before the error boundary opens (request id), so that
        # even a failing call is logged and answered with its request id.
        self._service = service
        self._trust_domain = trust_domain
        self._policies = policies
        self._first = tuple(first_stages)
        self._stages = tuple(stages)
        self._rechecks: tuple[Recheck, ...] = tuple(
            check for check in (getattr(stage, "recheck", None) for stage in stages) if check is not None
        )
        self._observer = observer
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        policy = self._policies.get(method)
        if handler is None or policy is None:
            # Unknown method (gRPC answers UNIMPLEMENTED) or infrastructure service.
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            wrapped = self._wrap(handler, policy)
            self._wrapped[method] = wrapped
        return wrapped

    async def _enter(self, policy: MethodPolicy, request: Message | Undecodable | None, context: Any) -> IncomingCall:
        # Each call runs in its own task: the mark is this call's alone.
        read_only_call.set(policy.read_only)
        call = IncomingCall(
            method=policy.method,
            policy=policy,
            metadata=_text_metadata(context),
            context=context,
            request=None if isinstance(request, Undecodable) else request,
            peer=context.peer(),
        )
        for stage in self._first:
            await stage(call)
        return call

    async def _run_stages(self, call: IncomingCall, request: Message | Undecodable | None = None) -> None:
        if isinstance(request, Undecodable):
            raise _refuse_undecodable()
        for stage in self._stages:
            await stage(call)

    @staticmethod
    def _answer_unary_with_headers(call: IncomingCall) -> None:
        # A unary call's answer is one batch (message, trailers, status) when nothing is
        # sent before it; a separate initial-metadata send costs a batch and a write of
        # its own (~10 % of a trivial call). So unary calls return the stages' headers
        # in the trailers, where a failed call's already are (see abort()).
        if call.response_headers:
            call.context.set_trailing_metadata(tuple(call.response_headers))

    @staticmethod
    async def _open_stream_with_headers(call: IncomingCall) -> None:
        # A stream's caller gets them at once, not when the stream ends.
        if call.response_headers:
            await call.context.send_initial_metadata(tuple(call.response_headers))

    def _wrap(self, handler: grpc.RpcMethodHandler[Any, Any], policy: MethodPolicy) -> grpc.RpcMethodHandler[Any, Any]:
        if policy.edge_path and handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_edge_path(handler.unary_unary, policy),
                request_deserializer=tolerant_deserializer(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        # Answers a handler shares between calls (cached ones) go out as the bytes made once.
        response_serializer = SHARED_ANSWERS.serializer(handler.response_serializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, policy),
                request_deserializer=tolerant_deserializer(handler.request_deserializer),
                response_serializer=response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, policy),
                request_deserializer=tolerant_deserializer(handler.request_deserializer),
                response_serializer=response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_client_stream(handler.stream_unary, policy),
                request_deserializer=tolerant_deserializer(handler.request_deserializer),
                response_serializer=response_serializer,
            )
        raise TypeError(f"{policy.method}: bidirectional streaming RPCs are not supported by the runtime yet")

    def _wrap_unary(self, behavior: Any, policy: MethodPolicy) -> Any:
        async def unary(request: Message, context: Any) -> Any:
            started = time.perf_counter()
            call = await self._enter(policy, request, context)
            code = grpc.StatusCode.OK
            try:
                await self._run_stages(call, request)
                self._answer_unary_with_headers(call)
                return await behavior(request, context)
            except BaseException as exc:
                error = error_for(exc, policy.method)
                if error is None:
                    code = grpc.StatusCode.CANCELLED
                    raise
                code, call.error_reason = error.code, str(error.reason)
                await abort(context, error, policy.method)
            finally:
                self._observer.finished(call, code, time.perf_counter() - started)

        return unary

    def _wrap_edge_path(self, behavior: Any, policy: MethodPolicy) -> Any:
        # The edge asks once per request it forwards: the whole chain was ~25 us of the service's
        # ~225 us per call, and its trailers more work for Envoy (docs/benchmarks.md). What keeps
        # it safe and well answered runs: the caller check and the error mapping (bad input is
        # INVALID_ARGUMENT with details, never UNKNOWN). Request ids, spans, the per-call log and
        # metrics are left out: Envoy's ratelimit filter counts these calls and their outcomes.
        served, trust_domain = self._service, self._trust_domain

        async def edge_path(request: Message | Undecodable, context: Any) -> Any:
            try:
                acting_service_var.set(served)
                if isinstance(request, Undecodable):
                    raise _refuse_undecodable()
                if trust_domain is not None:
                    check_caller(policy, peer_service(context, trust_domain))
                return await behavior(request, context)
            except BaseException as exc:
                error = error_for(exc, policy.method)
                if error is None:
                    raise
                await abort(context, error, policy.method)

        return edge_path

    async def _recheck(self, call: IncomingCall) -> None:
        for check in self._rechecks:
            await check(call)

    async def _rechecked(self, call: IncomingCall, requests: AsyncIterator[Message]) -> AsyncIterator[Message]:
        """A client stream's messages, each handed on only while the stages would still let the call in."""
        async for message in requests:
            await self._recheck(call)
            yield message

    def _wrap_client_stream(self, behavior: Any, policy: MethodPolicy) -> Any:
        async def unary_from_stream(requests: AsyncIterator[Message], context: Any) -> Any:
            started = time.perf_counter()
            # The stages see no request (there is none yet); each message is checked against
            # its proto's rules as the handler reads it, after the stages let the call in.
            call = await self._enter(policy, None, context)
            code = grpc.StatusCode.OK
            try:
                await self._run_stages(call, None)
                self._answer_unary_with_headers(call)
                return await behavior(validated_messages(self._rechecked(call, _decoded(requests))), context)
            except BaseException as exc:
                error = error_for(exc, policy.method)
                if error is None:
                    code = grpc.StatusCode.CANCELLED
                    raise
                code, call.error_reason = error.code, str(error.reason)
                await abort(context, error, policy.method)
            finally:
                self._observer.finished(call, code, time.perf_counter() - started)

        return unary_from_stream

    def _wrap_stream(self, behavior: Any, policy: MethodPolicy) -> Any:
        async def stream(request: Message, context: Any) -> AsyncIterator[Any]:
            started = time.perf_counter()
            call = await self._enter(policy, request, context)
            code = grpc.StatusCode.OK
            opened = False
            try:
                await self._run_stages(call, request)
                await self._open_stream_with_headers(call)
                opened = True
                async for response in behavior(request, context):
                    # A stream outlives the stages' checks: a tenant suspended meanwhile ends it.
                    await self._recheck(call)
                    yield response
            except BaseException as exc:
                error = error_for(exc, policy.method)
                if error is None:
                    code = grpc.StatusCode.CANCELLED
                    raise
                code, call.error_reason = error.code, str(error.reason)
                # Before the stream opened, a REST caller gets an HTTP error status with the
                # JSON error as its body: only an open stream's 200 needs the error in it.
                element = error_element(policy.method, call.metadata, error) if opened else None
                if element is not None:
                    yield element  # a REST caller's last element: see services/runtime/stream_errors.py
                await abort(context, error, policy.method)
            finally:
                self._observer.finished(call, code, time.perf_counter() - started)

        return stream
