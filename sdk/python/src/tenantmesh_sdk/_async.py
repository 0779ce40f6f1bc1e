"""The asyncio driver: a grpc.aio channel whose multicallables wrap the real channel's (see
_sync.py for why not grpc's interceptors: grpc.aio's run each intercepted call as an extra task)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from tenantmesh_sdk._calls import CallPolicy, TokenState, call_metadata, remaining
from tenantmesh_sdk._credentials import Token
from tenantmesh_sdk._errors import error_from_rpc
from tenantmesh_sdk._methods import MethodInfo, method_info, with_request_id

Metadata = tuple[tuple[str, str | bytes], ...]


class AsyncCallCore:
    def __init__(self, policy: CallPolicy, tokens: TokenState, tenant_id: Callable[[], str | None]) -> None:
        self.policy = policy
        self.tokens = tokens
        self.tenant_id = tenant_id
        self.channel: grpc.aio.Channel | None = None
        self._cached: tuple[Token | None, str | None, grpc.aio.Metadata] | None = None

    def fresh(self) -> Token | None:
        """The current token when no renewal is due (no coroutine on the hot path)."""
        current = self.tokens.token
        return current if current is not None and current.fresh() else None

    async def token(self, *, force: bool = False, previous: Token | None = None) -> Token | None:
        if self.tokens.credentials is None:
            return None
        current = self.tokens.token
        if current is not None and not force and current.fresh():
            return current
        async with self.tokens.lock():
            if self.tokens.stale(previous, force):
                assert self.channel is not None
                self.tokens.token = await self.tokens.credentials.afetch(self.channel, self.tokens.token)
            return self.tokens.token

    def metadata(self, given: Any, token: Token | None) -> grpc.aio.Metadata:
        tenant = self.tenant_id()
        if given:
            return grpc.aio.Metadata(*call_metadata(tuple(given), token, tenant))
        cached = self._cached
        if cached is not None and cached[0] is token and cached[1] == tenant:
            return cached[2]
        built = grpc.aio.Metadata(*call_metadata((), token, tenant))
        self._cached = (token, tenant, built)
        return built


class AsyncUnaryUnary:
    def __init__(self, core: AsyncCallCore, info: MethodInfo, raw: Any) -> None:
        self._core = core
        self._info = info
        self._raw = raw

    async def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - gRPC's deadline, as in its multicallables
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        core, info = self._core, self._info
        policy = core.policy
        request = with_request_id(info, request)
        token = None if info.public else (core.fresh() or await core.token())
        # One deadline for the whole call, retries included: each attempt gets what is left.
        deadline = policy.deadline(timeout)
        attempt, renewed = 0, False
        while True:
            try:
                return await self._raw(
                    request,
                    timeout=remaining(deadline),
                    metadata=core.metadata(metadata, token),
                    credentials=credentials,
                    wait_for_ready=wait_for_ready,
                    compression=compression,
                )
            except grpc.aio.AioRpcError as exc:
                error = error_from_rpc(exc)
            if error.code() == grpc.StatusCode.UNAUTHENTICATED and token is not None and not renewed:
                token, renewed = await core.token(force=True, previous=token), True
                left = remaining(deadline)
                if left is not None and left <= 0:
                    raise error from None
                continue
            delay = policy.retry_delay(error, attempt, info.retryable, deadline)
            if delay is not None:
                await asyncio.sleep(delay)
                attempt += 1
                continue
            raise error from None


class AsyncUnaryStream:
    def __init__(self, core: AsyncCallCore, info: MethodInfo, raw: Any) -> None:
        self._core = core
        self._info = info
        self._raw = raw

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> AsyncIterator[Any]:
        return self._messages(request, timeout, metadata, credentials, wait_for_ready, compression)

    async def _messages(
        self,
        request: Any,
        timeout: float | None,  # noqa: ASYNC109 - gRPC's deadline
        metadata: Any,
        credentials: grpc.CallCredentials | None,
        wait_for_ready: bool | None,
        compression: grpc.Compression | None,
    ) -> AsyncIterator[Any]:
        token = None if self._info.public else await self._core.token()
        call = self._raw(
            request,
            timeout=timeout,
            metadata=self._core.metadata(metadata, token),
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        finally:
            call.cancel()


class AsyncSdkChannel(grpc.aio.Channel):
    """The grpc.aio channel stubs are built on (see SdkChannel)."""

    def __init__(self, raw: grpc.aio.Channel, core: AsyncCallCore) -> None:
        self._raw = raw
        self._core = core
        core.channel = self

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return AsyncUnaryUnary(self._core, method_info(method), self._raw.unary_unary(method, *args, **kwargs))

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return AsyncUnaryStream(self._core, method_info(method), self._raw.unary_stream(method, *args, **kwargs))

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._raw.stream_unary(method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._raw.stream_stream(method, *args, **kwargs)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._raw.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._raw.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._raw.channel_ready()

    async def close(self, grace: float | None = None) -> None:
        await self._raw.close(grace)

    async def __aenter__(self) -> AsyncSdkChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
