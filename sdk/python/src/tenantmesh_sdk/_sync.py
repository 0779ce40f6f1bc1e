"""The synchronous driver: a channel whose multicallables wrap the real channel's.

The generated stubs ask their channel for one multicallable per RPC when they are built;
this channel hands out wrappers that know their RPC (public? safe to repeat? request_id?)
from then on, so a call costs a token check, a metadata tuple and the real call.
(grpc's client interceptors would add a future and an outcome object to every call.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from tenantmesh_sdk._calls import CallPolicy, TokenState, call_metadata, remaining
from tenantmesh_sdk._credentials import Token
from tenantmesh_sdk._errors import error_from_rpc
from tenantmesh_sdk._methods import MethodInfo, method_info, with_request_id

Metadata = tuple[tuple[str, str | bytes], ...]


class CallCore:
    """Token and metadata of a client's calls (shared by its multicallables)."""

    def __init__(self, policy: CallPolicy, tokens: TokenState, tenant_id: Callable[[], str | None]) -> None:
        self.policy = policy
        self.tokens = tokens
        self.tenant_id = tenant_id
        self.channel: grpc.Channel | None = None  # tokens are fetched over it
        self._cached: tuple[Token | None, str | None, Metadata] | None = None

    def token(self, *, force: bool = False, previous: Token | None = None) -> Token | None:
        if self.tokens.credentials is None:
            return None
        current = self.tokens.token
        if current is not None and not force and current.fresh():
            return current
        with self.tokens.sync_lock:
            if self.tokens.stale(previous, force):
                assert self.channel is not None
                self.tokens.token = self.tokens.credentials.fetch(self.channel, self.tokens.token)
            return self.tokens.token

    def metadata(self, given: Any, token: Token | None) -> Metadata:
        tenant = self.tenant_id()
        if given:
            return tuple(call_metadata(tuple(given), token, tenant))
        cached = self._cached
        if cached is not None and cached[0] is token and cached[1] == tenant:
            return cached[2]
        built = tuple(call_metadata((), token, tenant))
        self._cached = (token, tenant, built)
        return built


class UnaryUnary:
    def __init__(self, core: CallCore, info: MethodInfo, raw: grpc.UnaryUnaryMultiCallable[Any, Any]) -> None:
        self._core = core
        self._info = info
        self._raw = raw

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        core, info = self._core, self._info
        policy = core.policy
        request = with_request_id(info, request)
        token = None if info.public else core.token()
        # One deadline for the whole call, retries included: each attempt gets what is left.
        deadline = policy.deadline(timeout)
        attempt, renewed = 0, False
        while True:
            try:
                return self._raw(
                    request,
                    timeout=remaining(deadline),
                    metadata=core.metadata(metadata, token),
                    credentials=credentials,
                    wait_for_ready=wait_for_ready,
                    compression=compression,
                )
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
            if error.code() == grpc.StatusCode.UNAUTHENTICATED and token is not None and not renewed:
                token, renewed = core.token(force=True, previous=token), True
                left = remaining(deadline)
                if left is not None and left <= 0:
                    raise error from None
                continue
            delay = policy.retry_delay(error, attempt, info.retryable, deadline)
            if delay is not None:
                time.sleep(delay)
                attempt += 1
                continue
            raise error from None


class UnaryStream:
    def __init__(self, core: CallCore, info: MethodInfo, raw: grpc.UnaryStreamMultiCallable[Any, Any]) -> None:
        self._core = core
        self._info = info
        self._raw = raw

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Stream:
        token = None if self._info.public else self._core.token()
        call = self._raw(
            request,
            timeout=timeout,
            metadata=self._core.metadata(metadata, token),
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )
        return Stream(call)


class Stream:
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


class SdkChannel(grpc.Channel):
    """The channel stubs are built on: the real channel, with the SDK around unary and
    server-streaming calls (the platform has no client-streaming RPCs; those pass as they are)."""

    def __init__(self, raw: grpc.Channel, core: CallCore) -> None:
        self._raw = raw
        self._core = core
        core.channel = self

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return UnaryUnary(self._core, method_info(method), self._raw.unary_unary(method, *args, **kwargs))

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return UnaryStream(self._core, method_info(method), self._raw.unary_stream(method, *args, **kwargs))

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._raw.stream_unary(method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._raw.stream_stream(method, *args, **kwargs)

    def subscribe(self, callback: Callable[[grpc.ChannelConnectivity], None], try_to_connect: bool = False) -> None:
        self._raw.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Callable[[grpc.ChannelConnectivity], None]) -> None:
        self._raw.unsubscribe(callback)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> SdkChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
