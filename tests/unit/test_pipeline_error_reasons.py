"""Every call shape the pipeline serves reports a failed call's ErrorInfo reason to its observer
(tenantmesh_rpc_server_errors_total counts by it): unary, server-streaming and client-streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from services.runtime.access import MethodPolicy, Scope
from services.runtime.errors import CommonReason, InvalidArgument
from services.runtime.interceptors.chain import IncomingCall, PipelineInterceptor

METHOD = "/tenantmesh.forms.v1.FileService/UploadFile"
POLICY = MethodPolicy(method=METHOD, permission="", public=True, scope=Scope.TENANT, server_streaming=False)


class Aborted(Exception):
    pass


class FakeContext:
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass

    async def send_initial_metadata(self, metadata: Any) -> None:
        pass

    async def abort(self, code: grpc.StatusCode, details: str, trailing_metadata: Any = ()) -> None:
        raise Aborted(code)


class Recorder:
    def __init__(self) -> None:
        self.finished_calls: list[tuple[grpc.StatusCode, str]] = []

    def finished(self, call: IncomingCall, code: grpc.StatusCode, seconds: float) -> None:
        self.finished_calls.append((code, call.error_reason))


def refusal() -> InvalidArgument:
    return InvalidArgument("the file type is not allowed", reason=CommonReason.REQUEST_MALFORMED)


async def no_messages() -> AsyncIterator[Any]:
    return
    yield


async def unary_call(pipeline: PipelineInterceptor) -> None:
    async def behavior(request: Any, context: Any) -> Any:
        raise refusal()

    await pipeline._wrap_unary(behavior, POLICY)(object(), FakeContext())


async def server_stream_call(pipeline: PipelineInterceptor) -> None:
    async def behavior(request: Any, context: Any) -> AsyncIterator[Any]:
        raise refusal()
        yield

    async for _ in pipeline._wrap_stream(behavior, POLICY)(object(), FakeContext()):
        pass


async def client_stream_call(pipeline: PipelineInterceptor) -> None:
    async def behavior(requests: AsyncIterator[Any], context: Any) -> Any:
        async for _ in requests:
            pass
        raise refusal()

    await pipeline._wrap_client_stream(behavior, POLICY)(no_messages(), FakeContext())


@pytest.mark.parametrize("call", [unary_call, server_stream_call, client_stream_call])
async def test_a_refused_call_is_reported_with_its_reason(call: Any) -> None:
    recorder = Recorder()
    pipeline = PipelineInterceptor({METHOD: POLICY}, [], [], recorder)
    with pytest.raises(Aborted):
        await call(pipeline)
    assert recorder.finished_calls == [(grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_MALFORMED")]
