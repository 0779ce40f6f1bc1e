"""Hypothesis over every RPC the in-process platform serves, requests built from the
descriptors (tests/support/proto_strategies.py): whatever a caller sends, the answer is
never INTERNAL or UNKNOWN, and a request that breaks its protovalidate rules (as the runtime's
own validator finds them) is refused with INVALID_ARGUMENT naming every broken field. A second,
deterministic test breaks exactly one rule of each validated request.

Calls are made as the platform administrator (tenant-scoped ones naming a real tenant), so
they get past authorization into validation and the handlers. Left out: Logout (it would
end that administrator's session). Server streams are read for one message and cancelled.
Internal RPCs (mesh callers only) and the edge's path are refused or not validated before
validation could run: they are held to the first promise only.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from buf.validate import validate_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, seed, settings

from services.runtime.access import MethodPolicy, Scope
from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.interceptors.validation import violations_of
from services.runtime.nesting import too_deep
from services.runtime.rich_status import MAX_TEXT_BYTES, VIOLATIONS_OMITTED, truncated
from tests.support.errors import error_info, violations
from tests.support.isolation import Rpc, served_rpcs
from tests.support.platform import EVERY_OTHER_SERVICE, bearer, platform
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


def _validated(rpc: Rpc) -> bool:
    """Whether an administrator's call of ``rpc`` reaches the validation stage."""
    return not rpc.policy.callers and not rpc.policy.edge_path


def expected_violations(request: Message) -> list[str]:
    """The field paths the validation stage reports for ``request``, as sent (the runtime's own
    check: depth first, then the protovalidate rules; paths cut to the rich status's limit)."""
    found = too_deep(request) or violations_of(request)
    return [truncated(violation.field, MAX_TEXT_BYTES) for violation in found]


def refusal_problem(code: grpc.StatusCode, error: grpc.aio.AioRpcError | None, expected: list[str]) -> str | None:
    """Why an answer is not the refusal of a request with violations at ``expected`` (None: it is)."""
    if code != grpc.StatusCode.INVALID_ARGUMENT or error is None:
        return f"answered {code.name}, not INVALID_ARGUMENT for {expected}"
    fields = [str(v.field) for v in violations(error)]
    omitted = int(error_info(error).metadata.get(VIOLATIONS_OMITTED, "0"))
    # Map entries may be walked in another order on the server: compared as sets, all accounted for.
    if not fields or not set(fields) <= set(expected) or len(fields) + omitted != len(expected):
        return f"named {fields} (+{omitted} omitted), expected {expected}"
    if not omitted and set(fields) != set(expected):
        return f"named {fields}, expected {expected}"
    return None


async def _call(
    channel: grpc.aio.Channel, rpc: Rpc, request: Message, metadata: Any
) -> tuple[grpc.StatusCode, grpc.aio.AioRpcError | None]:
    method = rpc.method
    serializer = type(request).SerializeToString
    if method.server_streaming:
        stream = channel.unary_stream(rpc.path, request_serializer=serializer, response_deserializer=bytes)
        call = stream(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
        try:
            async for _ in call:
                break
        except grpc.aio.AioRpcError as error:
            return error.code(), error
        finally:
            call.cancel()
        return grpc.StatusCode.OK, None
    if method.client_streaming:
        upload = channel.stream_unary(rpc.path, request_serializer=serializer, response_deserializer=bytes)
        try:
            await upload(iter([request]), metadata=metadata, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            return error.code(), error
        return grpc.StatusCode.OK, None
    unary = channel.unary_unary(rpc.path, request_serializer=serializer, response_deserializer=bytes)
    try:
        await unary(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        return error.code(), error
    return grpc.StatusCode.OK, None


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
                expected = expected_violations(request) if _validated(rpc) else []
                code, error = _run_sync(loop, _call(channel, rpc, request, metadata))
                codes[code] += 1
                if code in FORBIDDEN:
                    bad.append(f"{rpc.path}: {code.name} for {request!r}"[:2000])
                elif expected and (problem := refusal_problem(code, error, expected)):
                    bad.append(f"{rpc.path}: {problem} for {request!r}"[:2000])

            run()

        try:
            for rpc in rpcs:
                await asyncio.to_thread(fuzz, rpc)
        finally:
            for channel in channels.values():
                await channel.close()
        print(f"descriptor fuzz: {sum(codes.values())} calls over {len(rpcs)} RPCs, seed {SEED}, {dict(codes)}")
        assert not bad, f"{len(bad)} calls answered INTERNAL/UNKNOWN or not as validation (seed {SEED}):\n" + "\n".join(
            bad[:30]
        )


# --------------------------------------------------------------------------- one rule broken

_FIELD_RULES: Any = validate_pb2.field
# A field's descriptor: google.protobuf's, or upb's that descriptors hand out (typed apart).
Field = Any
# Values that satisfy the rules the protos use (tried in order until the field has no violation).
_VALID_STRINGS = (
    "abc",
    "en",
    "abc-def",
    "abc.def",
    "text/plain",
    "/abc",
    "https://example.com/abc",
    "someone@example.com",
    "123456",
)
# Values that break a string rule (the first that breaks exactly one is kept).
_BREAKING_STRINGS = ("Not Valid!", "not-a-uuid", "a/\\\x01b", "")
_BREAKING_INTS = (-1, 2**31 - 1)
_MAX_REPAIR_DEPTH = 2
# Requests no simple value breaks alone (rules on repeated fields only, or a required message
# whose own rules the repair does not satisfy): covered by the fuzz above (or not at all: menus).
NO_SINGLE_RULE_REQUEST = {
    "/tenantmesh.registry.v1.CatalogService/RegisterServiceVersion",
    "/tenantmesh.registry.v1.DiscoveryService/Watch",
    "/tenantmesh.menus.v1.MenuService/SetMenuOverride",
}


def _string_rules(field: Field) -> Any | None:
    options = field.GetOptions()
    if field.type != FieldDescriptor.TYPE_STRING or field.is_repeated or not options.HasExtension(_FIELD_RULES):
        return None
    rules = options.Extensions[_FIELD_RULES]
    return rules.string if rules.HasField("string") else None


def _int_rules(field: Field) -> bool:
    options = field.GetOptions()
    return (
        field.type == FieldDescriptor.TYPE_INT32
        and not field.is_repeated
        and options.HasExtension(_FIELD_RULES)
        and options.Extensions[_FIELD_RULES].HasField("int32")
    )


def _required(field: Field) -> bool:
    options = field.GetOptions()
    return options.HasExtension(_FIELD_RULES) and bool(options.Extensions[_FIELD_RULES].required)


def _plain_message(field: Field) -> bool:
    kind = field.message_type
    return kind is not None and not field.is_repeated and not kind.GetOptions().map_entry


def _field_of(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def _repair(message: Message, depth: int = 0) -> None:
    """Sets ``message``'s fields (and those of the messages it must hold) to values its rules
    accept, as far as simple values go: a valid base for breaking one rule."""
    descriptor = message.DESCRIPTOR
    for _ in range(len(descriptor.fields) + 1):
        names = {_field_of(v.field) for v in violations_of(message)}
        if not names:
            return
        for name in names:
            field = descriptor.fields_by_name.get(name)
            if field is None and name in descriptor.oneofs_by_name:  # a required oneof: its first field
                field = descriptor.oneofs_by_name[name].fields[0]
            if field is not None:
                _repair_field(message, field, depth)


def _repair_field(message: Message, field: Field, depth: int) -> None:
    if field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated:
        rules = _string_rules(field)
        minimum = "a" * int(rules.min_len) if rules is not None and rules.min_len else "a"
        for value in (str(uuid.uuid4()), *_VALID_STRINGS, minimum):
            setattr(message, field.name, value)
            if field.name not in {_field_of(v.field) for v in violations_of(message)}:
                return
    elif _plain_message(field) and depth < _MAX_REPAIR_DEPTH:
        held = getattr(message, field.name)
        held.SetInParent()
        _repair(held, depth + 1)


def _one_rule_broken(descriptor: Descriptor) -> tuple[Message, str] | None:
    """A request of ``descriptor``'s type breaking exactly one rule, and the path of its field; None
    when the descriptor's rules leave no such request within reach of simple values."""
    request = message_factory.GetMessageClass(descriptor)()
    _repair(request)
    if violations_of(request):
        return None
    for holder, prefix in _holders(request):
        for field in holder.DESCRIPTOR.fields:
            rules = _string_rules(field)
            candidates: list[Any] = []
            if rules is not None:
                over = ["a" * (int(rules.max_len) + 1)] if rules.HasField("max_len") else []
                candidates = [*over, *_BREAKING_STRINGS]
            elif _int_rules(field):
                candidates = list(_BREAKING_INTS)
            elif _required(field) and _plain_message(field):
                candidates = [None]  # a required message left out
            for value in candidates:
                before = getattr(holder, field.name) if value is not None else None
                if value is None:
                    kept = type(getattr(holder, field.name))()
                    kept.CopyFrom(getattr(holder, field.name))
                    holder.ClearField(field.name)
                else:
                    setattr(holder, field.name, value)
                path = prefix + field.name
                if [v.field for v in violations_of(request)] == [path]:
                    return request, path
                if value is None:
                    getattr(holder, field.name).CopyFrom(kept)
                else:
                    setattr(holder, field.name, before)
    return None


def _holders(request: Message) -> list[tuple[Message, str]]:
    """The request and the messages it holds (set, not repeated), with their path prefixes."""
    found = [(request, "")]
    for field, value in request.ListFields():
        if _plain_message(field) and value.DESCRIPTOR.full_name.startswith("tenantmesh."):
            found.append((value, f"{field.name}."))
    return found


def _has_rules(descriptor: Descriptor) -> bool:
    return bool(descriptor.GetOptions().ByteSize()) or any(
        field.GetOptions().HasExtension(_FIELD_RULES) for field in descriptor.fields
    )


async def test_a_request_breaking_one_rule_is_refused_naming_its_field(db_backend_url: str, tmp_path: Path) -> None:
    # Every service of the platform (the fuzz above runs tenants, auth and the registry only).
    async with platform(db_backend_url, tmp_path, extra=EVERY_OTHER_SERVICE) as mesh:
        token = await mesh.admin_token()
        tenant_id = PLATFORM_TENANT_ID  # the administrator's own tenant
        rpcs = [
            rpc
            for rpc in served_rpcs(mesh.started)
            if rpc.path not in SKIPPED and _validated(rpc) and _has_rules(rpc.method.input_type)
        ]
        assert {rpc.server for rpc in rpcs} >= {"tenants", "auth", *EVERY_OTHER_SERVICE} - {"meta"}
        channels = {rpc.address: grpc.aio.insecure_channel(rpc.address) for rpc in rpcs}
        bad: list[str] = []
        unbroken: list[str] = []
        try:
            for rpc in rpcs:
                broken = _one_rule_broken(rpc.method.input_type)
                if broken is None:
                    unbroken.append(rpc.path)
                    continue
                request, path = broken
                metadata = _metadata(rpc.policy, token, tenant_id)
                code, error = await _call(channels[rpc.address], rpc, request, metadata)
                if problem := refusal_problem(code, error, [path]):
                    bad.append(f"{rpc.path}: {problem} for {request!r}"[:1000])
        finally:
            for channel in channels.values():
                await channel.close()
        checked = len(rpcs) - len(unbroken)
        print(f"one rule broken: {checked} RPCs checked, no single-rule request for {unbroken}")
        assert not bad, f"{len(bad)} requests breaking one rule were not refused as such:\n" + "\n".join(bad)
        # Every validated request but a few known ones is covered (a new RPC is too, or listed).
        assert set(unbroken) <= NO_SINGLE_RULE_REQUEST, unbroken
        assert checked > 50
