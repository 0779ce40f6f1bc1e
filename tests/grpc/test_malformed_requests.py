"""Bytes that are not a message, sent to every RPC the platform serves (found from the
descriptors, not listed by hand): each is answered INVALID_ARGUMENT / REQUEST_MALFORMED
before authentication (no token is sent; a client stream's messages are read after it),
never UNKNOWN or INTERNAL, and nothing is logged at error level. Well-formed but hostile
messages are the descriptor fuzz test's (test_descriptor_fuzz.py); free-form values nested
too deep are tested here too."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from tenantmesh.registry.v1 import registry_service_pb2

from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.nesting import MAX_VALUE_DEPTH
from tests.support.errors import reason_of, violation_fields
from tests.support.isolation import Rpc, served_rpcs
from tests.support.platform import EVERY_OTHER_SERVICE, bearer, platform


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string_field(descriptor: Descriptor) -> FieldDescriptor | None:
    return next((f for f in descriptor.fields if f.type == FieldDescriptor.TYPE_STRING), None)


def hostile_bodies(descriptor: Descriptor) -> dict[str, bytes]:
    """Bodies no parser may accept as a ``descriptor`` message."""
    bodies = {
        "not protobuf": b"\xff\xff\xff\xff",
        "truncated field": _tag(1, 2) + _varint(5) + b"ab",
        "varint of 11 bytes": _tag(1, 0) + b"\xff" * 10 + b"\x01",
        "wire type 7": _tag(1, 7),
        "end of a group never opened": _tag(1, 4),
        "groups nested 1,000 deep": _tag(1, 3) * 1000,
        "length beyond the body": _tag(2, 2) + _varint(2**31),
    }
    text = _string_field(descriptor)
    if text is not None:
        bodies["bad UTF-8"] = _tag(text.number, 2) + _varint(2) + b"\xff\xfe"
    return bodies


async def _send(
    channel: grpc.aio.Channel, rpc: Rpc, body: bytes, metadata: tuple[tuple[str, str], ...] = ()
) -> grpc.aio.AioRpcError | None:
    identity = bytes  # the bodies are sent and answers read as raw bytes
    try:
        if rpc.method.server_streaming:
            call = channel.unary_stream(rpc.path, request_serializer=identity, response_deserializer=identity)(
                body, timeout=20
            )
            async for _ in call:
                break
            call.cancel()
        else:
            # A client stream of one message looks like a unary call on the wire.
            await channel.unary_unary(rpc.path, request_serializer=identity, response_deserializer=identity)(
                body, metadata=metadata, timeout=20
            )
    except grpc.aio.AioRpcError as error:
        return error
    return None


async def test_every_rpc_answers_malformed_bytes_invalid_argument(
    db_backend_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with platform(db_backend_url, tmp_path, extra=EVERY_OTHER_SERVICE) as mesh:
        rpcs = served_rpcs(mesh.started)
        assert {rpc.server for rpc in rpcs} == {"tenants", "auth", *EVERY_OTHER_SERVICE}
        # A client stream is read only after its caller is let in (an upload's bytes are not
        # taken from a stranger), so its messages are judged with a valid caller.
        signed_in = (*bearer(await mesh.admin_token()), ("x-tenant-id", PLATFORM_TENANT_ID))
        wrong: list[str] = []
        sent = 0
        with caplog.at_level(logging.INFO):
            for rpc in rpcs:
                channel = mesh.channel(rpc.server)
                for name, body in hostile_bodies(rpc.method.input_type).items():
                    sent += 1
                    metadata = signed_in if rpc.method.client_streaming else ()
                    error = await _send(channel, rpc, body, metadata)
                    if error is None:
                        wrong.append(f"{rpc.path} [{name}]: OK")
                    elif error.code() != grpc.StatusCode.INVALID_ARGUMENT or reason_of(error) != "REQUEST_MALFORMED":
                        wrong.append(f"{rpc.path} [{name}]: {error.code().name} {error.details()}")
                    elif "google.protobuf" in (error.details() or "") or "Error" in (error.details() or ""):
                        wrong.append(f"{rpc.path} [{name}]: names internals: {error.details()}")
        print(f"malformed bodies: {sent} calls over {len(rpcs)} RPCs")
        assert not wrong, f"{len(wrong)} of {sent} calls answered otherwise:\n" + "\n".join(wrong[:40])
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, f"{len(errors)} error-level log records, e.g. {errors[0].getMessage()}"


def _nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` objects deep."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH + 1, 60, 150])
async def test_values_nested_beyond_the_limit_are_invalid_argument(
    db_backend_url: str, tmp_path: Path, depth: int
) -> None:
    async with platform(db_backend_url, tmp_path, extra=("registry",)) as mesh:
        token = await mesh.admin_token()
        tenant = await mesh.create_tenant(f"deep-{uuid.uuid4().hex[:8]}")
        request = registry_service_pb2.EnableServiceRequest(service="anything")
        request.config.update(_nested(depth))
        call = mesh.channel("registry").unary_unary(
            "/tenantmesh.registry.v1.EnabledServiceService/EnableService",
            request_serializer=registry_service_pb2.EnableServiceRequest.SerializeToString,
            response_deserializer=bytes,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, metadata=(*bearer(token), ("x-tenant-id", tenant.tenant_id)), timeout=20)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        if depth == MAX_VALUE_DEPTH + 1:
            # Within what the parser reads: refused at its field, by the documented limit.
            assert reason_of(caught.value) == "FIELD_INVALID"
            assert violation_fields(caught.value) == {"config"}
        else:
            # Beyond the parser's own recursion limit: not a message it will read at all.
            assert reason_of(caught.value) == "REQUEST_MALFORMED"


async def test_values_at_the_limit_pass_the_depth_check(db_backend_url: str, tmp_path: Path) -> None:
    async with platform(db_backend_url, tmp_path, extra=("registry",)) as mesh:
        token = await mesh.admin_token()
        tenant = await mesh.create_tenant(f"deep-{uuid.uuid4().hex[:8]}")
        request = registry_service_pb2.EnableServiceRequest(service="no-such-service")
        request.config.update(_nested(MAX_VALUE_DEPTH))
        stub = mesh.channel("registry").unary_unary(
            "/tenantmesh.registry.v1.EnabledServiceService/EnableService",
            request_serializer=registry_service_pb2.EnableServiceRequest.SerializeToString,
            response_deserializer=bytes,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub(request, metadata=(*bearer(token), ("x-tenant-id", tenant.tenant_id)), timeout=20)
        # Past validation into the handler, which knows no such service.
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
