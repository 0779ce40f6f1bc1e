"""The synchronous driver: a grpc client interceptor on the client's channel."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from tenantmesh_sdk._calls import CallPolicy, TokenState, call_metadata
from tenantmesh_sdk._credentials import Token
from tenantmesh_sdk._errors import error_from_rpc
from tenantmesh_sdk._methods import method_info, with_request_id


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class SyncInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, policy: CallPolicy, tokens: TokenState, tenant_id: Callable[[], str | None]) -> None:
        self.policy = policy
        self.tokens = tokens
        self.tenant_id = tenant_id
        self.channel: grpc.Channel | None = None  # set by the client: tokens are fetched over it

    def token(self, *, force: bool = False, previous: Token | None = None) -> Token | None:
        if self.tokens.credentials is None:
            return None
        with self.tokens.sync_lock:
            if self.tokens.stale(previous, force):
                assert self.channel is not None
                self.tokens.token = self.tokens.credentials.fetch(self.channel, self.tokens.token)
            return self.tokens.token

    def _details(self, details: grpc.ClientCallDetails, token: Token | None, streaming: bool) -> _Details:
        timeout = details.timeout
        if timeout is None and not streaming:
            timeout = self.policy.timeout
        return _Details(
            details.method,
            timeout,
            call_metadata(details.metadata, token, self.tenant_id()),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        info = method_info(_method(client_call_details))
        request = with_request_id(info, request)
        attempt, renewed = 0, False
        token = None if info.public else self.token()
        while True:
            outcome = continuation(self._details(client_call_details, token, streaming=False), request)
            try:
                outcome.result()
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
            else:
                return outcome
            if error.code() == grpc.StatusCode.UNAUTHENTICATED and token is not None and not renewed:
                token, renewed = self.token(force=True, previous=token), True
                continue
            if self.policy.should_retry(error, attempt, info.retryable):
                time.sleep(self.policy.backoff(attempt, error))
                attempt += 1
                continue
            raise error from None

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        info = method_info(_method(client_call_details))
        token = None if info.public else self.token()
        call = continuation(self._details(client_call_details, token, streaming=True), request)
        return _Stream(call)


class _Stream:
    """A server stream as an iterator whose errors are the SDK's typed errors; ``cancel()`` ends it."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None

    def cancel(self) -> bool:
        return bool(self._call.cancel())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


def _method(details: grpc.ClientCallDetails) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)
