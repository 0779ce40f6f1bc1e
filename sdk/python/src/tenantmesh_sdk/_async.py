"""The asyncio driver: grpc.aio client interceptors on the client's channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from tenantmesh_sdk._calls import CallPolicy, TokenState, call_metadata
from tenantmesh_sdk._credentials import Token
from tenantmesh_sdk._errors import error_from_rpc
from tenantmesh_sdk._methods import method_info, with_request_id


class _AsyncBase:
    def __init__(self, policy: CallPolicy, tokens: TokenState, tenant_id: Callable[[], str | None]) -> None:
        self.policy = policy
        self.tokens = tokens
        self.tenant_id = tenant_id
        self.channel: grpc.aio.Channel | None = None

    async def token(self, *, force: bool = False, previous: Token | None = None) -> Token | None:
        if self.tokens.credentials is None:
            return None
        async with self.tokens.lock():
            if self.tokens.stale(previous, force):
                assert self.channel is not None
                self.tokens.token = await self.tokens.credentials.afetch(self.channel, self.tokens.token)
            return self.tokens.token

    def _details(
        self, details: grpc.aio.ClientCallDetails, token: Token | None, streaming: bool
    ) -> grpc.aio.ClientCallDetails:
        timeout = details.timeout
        if timeout is None and not streaming:
            timeout = self.policy.timeout
        return grpc.aio.ClientCallDetails(
            details.method,
            timeout,
            grpc.aio.Metadata(*call_metadata(tuple(details.metadata or ()), token, self.tenant_id())),
            details.credentials,
            details.wait_for_ready,
        )


class AsyncUnaryInterceptor(_AsyncBase, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        info = method_info(_method(client_call_details))
        request = with_request_id(info, request)
        attempt, renewed = 0, False
        token = None if info.public else await self.token()
        while True:
            call = await continuation(self._details(client_call_details, token, streaming=False), request)
            try:
                return await call
            except grpc.aio.AioRpcError as exc:
                error = error_from_rpc(exc)
            if error.code() == grpc.StatusCode.UNAUTHENTICATED and token is not None and not renewed:
                token, renewed = await self.token(force=True, previous=token), True
                continue
            if self.policy.should_retry(error, attempt, info.retryable):
                await asyncio.sleep(self.policy.backoff(attempt, error))
                attempt += 1
                continue
            raise error from None


class AsyncStreamInterceptor(_AsyncBase, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        info = method_info(_method(client_call_details))
        token = None if info.public else await self.token()
        call = await continuation(self._details(client_call_details, token, streaming=True), request)
        return _messages(call)


async def _messages(call: Any) -> AsyncIterator[Any]:
    try:
        async for message in call:
            yield message
    except grpc.aio.AioRpcError as exc:
        raise error_from_rpc(exc) from None
    finally:
        call.cancel()


def _method(details: grpc.aio.ClientCallDetails) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)
