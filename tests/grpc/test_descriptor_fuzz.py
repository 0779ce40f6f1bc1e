"""Hypothesis over every RPC the in-process platform serves, requests built from the
descriptors (tests/support/proto_strategies.py): whatever a caller sends, the answer is
never INTERNAL or UNKNOWN.

Calls are made as the platform administrator (tenant-scoped ones naming a real tenant), so
they get past authorization into validation and the handlers. Left out: Logout (it would
end that administrator's session). Server streams are read for one message and cancelled.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, seed, settings

from services.runtime.access import MethodPolicy, Scope
from tests.support.isolation import Rpc, served_rpcs
from tests.support.platform import bearer
from tests.support.proto_strategies import messages
from tests.support.registry import registry_world

T = TypeVar("T")

SKIPPED = {"/tenantmesh.auth.v1.AuthService/Logout"}
EXAMPLES = int(os.environ.get("TENANTMESH_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("TENANTMESH_FUZZ_SEED", str(random.randrange(2**32))))
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
CALL_TIMEOUT_S = 20


def _metadata(policy: MethodPolicy, token: str, tenant_id: str) -> tuple[tuple[str, str], ...]:
    scoped = policy.scope is Scope.TENANT
    return bearer(token) + ((("x-tenant-id", tenant_id),) if scoped else ())


async def _call(channel: grpc.aio.Channel, rpc: Rpc, request: Message, metadata: Any) -> grpc.StatusCode:
    method = rpc.method
    serializer = type(request).SerializeToString
    if method.server_streaming:
        stream = channel.unary_stream(rpc.path, request_serializer=serializer, response_deserializer=bytes)
        call = stream(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
        try:
            async for _ in call:
                break
        except grpc.aio.AioRpcError as error:
            return error.code()
        finally:
            call.cancel()
        return grpc.StatusCode.OK
    if method.client_streaming:
        upload = channel.stream_unary(rpc.path, request_serializer=serializer, response_deserializer=bytes)
        try:
            await upload(iter([request]), metadata=metadata, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK
    unary = channel.unary_unary(rpc.path, request_serializer=serializer, response_deserializer=bytes)
    try:
        await unary(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _run_sync(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=CALL_TIMEOUT_S + 10)


# Slow by design (thousands of calls / building and installing a package): beyond the default 120 s.
@pytest.mark.timeout(900)
async def test_no_request_gets_internal_or_unknown(db_backend_url: str, tmp_path: Path) -> None:
    async with registry_world(db_backend_url, tmp_path) as world:
        token = await world.admin_token()
        tenant_id = await world.new_tenant("fuzz")
        rpcs = [rpc for rpc in served_rpcs(world.mesh.started) if rpc.path not in SKIPPED]
        assert any(rpc.server == "registry" for rpc in rpcs)
        # Channels belong to this loop: made here, used from the Hypothesis thread through it.
        channels = {rpc.address: grpc.aio.insecure_channel(rpc.address) for rpc in rpcs}
        codes: Counter[grpc.StatusCode] = Counter()
        bad: list[str] = []
        loop = asyncio.get_running_loop()

        def fuzz(rpc: Rpc) -> None:
            channel = channels[rpc.address]
            metadata = _metadata(rpc.policy, token, tenant_id)

            @seed(SEED)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(request=messages(rpc.method.input_type))
            def run(request: Message) -> None:
                code = _run_sync(loop, _call(channel, rpc, request, metadata))
                codes[code] += 1
                if code in FORBIDDEN:
                    bad.append(f"{rpc.path}: {code.name} for {request!r}"[:2000])

            run()

        try:
            for rpc in rpcs:
                await asyncio.to_thread(fuzz, rpc)
        finally:
            for channel in channels.values():
                await channel.close()
        print(f"descriptor fuzz: {sum(codes.values())} calls over {len(rpcs)} RPCs, seed {SEED}, {dict(codes)}")
        assert not bad, f"{len(bad)} calls answered INTERNAL/UNKNOWN (seed {SEED}):\n" + "\n".join(bad[:30])
