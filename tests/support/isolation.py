"""The isolation matrix: every RPC the platform serves, times every way a caller can lack access.

RPCs are enumerated from what the running servers host and the descriptors' access policies
(``services.runtime.access.load_policies``), so a new RPC or service is covered without
touching the tests. For each RPC that is not public, every applicable case must be refused
with the expected auth error; public RPCs must not answer UNAUTHENTICATED/PERMISSION_DENIED
without a token. Anything else (OK, a validation error, NOT_FOUND...) is a leak.

The transports (direct gRPC, REST through Envoy) plug in as a ``Caller``: an async function
``(rpc, bearer token or None, x-tenant-id or None[, request]) -> Outcome``.

A second matrix, the *shared person* (``build_shared_world``, ``run_shared_person_matrix``), runs
every RPC as tenant B's administrator against a person of both A and B, people of A only and the
platform administrator, and checks what the answers carry and what changed (see its section).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
import httpx
import jwt
from buf.validate import validate_pb2
from cryptography.hazmat.primitives import serialization
from google.api import annotations_pb2
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from tenantmesh.auth.v1 import admin_service_pb2, auth_service_pb2, user_pb2
from tenantmesh.forms.v1 import form_service_pb2, form_service_pb2_grpc
from tenantmesh.menus.v1 import menu_pb2, menu_service_pb2, menu_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_service_pb2
from tenantmesh.webhooks.v1 import webhook_service_pb2, webhook_service_pb2_grpc

from services.mesh.edge import HttpBinding, http_bindings
from services.runtime.access import INFRASTRUCTURE_SERVICES, MethodPolicy, Scope, load_policies
from services.runtime.app import StartedApp
from services.runtime.auth.claims import ALGORITHM
from services.runtime.mesh_tls import MeshTls
from tests.support.mesh_tls import TESTER, mesh_channel
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform, bearer

STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
AUTH_CODES = frozenset({UNAUTHENTICATED, PERMISSION_DENIED})
USER_PASSWORD = "isolation-matrix-password-1"
# What the custom role of build_world's reader grants: one harmless permission (reading the current
# tenant), which the built-in member role also holds.
READER_PERMISSIONS = frozenset({"tenants.current.get"})
# Any value of a path variable or id field: well-formed, names nothing.
SOME_ID = "0190c2a4-0000-7000-8000-00000000abcd"
_WELL_KNOWN = ("google.protobuf.",)


# --------------------------------------------------------------------------- RPCs


@dataclass(frozen=True)
class Rpc:
    """One RPC of one running server."""

    server: str  # app name, e.g. "tenants"
    address: str  # host:port of that server
    method: MethodDescriptor
    policy: MethodPolicy
    # Set on the REST variants of an RPC (one per google.api.http binding).
    binding: HttpBinding | None = None

    @property
    def path(self) -> str:
        return self.policy.method

    @property
    def bindings(self) -> tuple[HttpBinding, ...]:
        options = self.method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            return ()
        return tuple(http_bindings(options.Extensions[annotations_pb2.http]))

    def __str__(self) -> str:
        if self.binding is not None:
            return f"{self.binding.verb} {self.binding.template} ({self.path})"
        return f"{self.path} @{self.server}"


def served_rpcs(started: Sequence[StartedApp]) -> list[Rpc]:
    """Every method of every service each running server hosts (infrastructure services aside)."""
    pool = descriptor_pool.Default()
    rpcs: list[Rpc] = []
    for item in started:
        names = [n for n in item.server.service_names if n not in INFRASTRUCTURE_SERVICES]
        policies = load_policies(names)
        address = f"127.0.0.1:{item.server.port}"
        for name in names:
            for method in pool.FindServiceByName(name).methods:
                path = f"/{name}/{method.name}"
                rpcs.append(Rpc(item.app.name, address, method, policies[path]))
    return rpcs


def rest_rpcs(rpcs: Iterable[Rpc]) -> list[Rpc]:
    """One variant per REST binding of every RPC that has one (an RPC served by several
    servers, e.g. MetaService, once)."""
    seen: set[tuple[str, HttpBinding]] = set()
    variants: list[Rpc] = []
    for rpc in rpcs:
        for binding in rpc.bindings:
            if (rpc.path, binding) not in seen:
                seen.add((rpc.path, binding))
                variants.append(dataclasses.replace(rpc, binding=binding))
    return variants


def _fill_ids(message: Message, depth: int = 0) -> bool:
    """Sets every singular ``*_id`` string field (and those of singular sub-messages) to SOME_ID."""
    filled = False
    descriptor: Any = message.DESCRIPTOR
    for fd in descriptor.fields:
        if fd.is_repeated:
            continue
        if fd.type == FieldDescriptor.TYPE_STRING and (fd.name == "id" or fd.name.endswith("_id")):
            if fd.containing_oneof is None or message.WhichOneof(fd.containing_oneof.name) is None:
                setattr(message, fd.name, SOME_ID)
                filled = True
        elif (
            fd.message_type is not None
            and depth < 2
            and not fd.message_type.full_name.startswith(_WELL_KNOWN)
            and fd.containing_oneof is None
        ):
            child = message_factory.GetMessageClass(fd.message_type)()
            if _fill_ids(child, depth + 1):
                getattr(message, fd.name).CopyFrom(child)
                filled = True
    return filled


def minimal_request(rpc: Rpc) -> Message:
    """An empty request with well-formed ids, so validation has little to say (it runs last anyway)."""
    request: Message = message_factory.GetMessageClass(rpc.method.input_type)()
    _fill_ids(request)
    return request


def rest_path(binding: HttpBinding, request: Message) -> str:
    """The binding's template with each variable replaced by the request's value (or SOME_ID)."""

    def value(match: Any) -> str:
        current: Any = request
        for part in match.group(1).split("."):
            current = getattr(current, part, "")
        return str(current) or SOME_ID

    return re.sub(r"\{([^}=]+)(?:=[^}]*)?\}", value, binding.template)


def _rule_of(rpc: Rpc, binding: HttpBinding) -> Any:
    options = rpc.method.GetOptions().Extensions[annotations_pb2.http]
    for rule in [options, *options.additional_bindings]:
        bound = http_bindings(rule)
        if bound and bound[0] == binding:
            return rule
    return None


def rest_body(rpc: Rpc, binding: HttpBinding, request: Message | None = None) -> bytes | None:
    """The JSON body of a binding that takes one: ``{}``, or the request's (or its body field's) JSON."""
    rule = _rule_of(rpc, binding)
    if rule is None or not rule.body:
        return None
    if request is None:
        return b"{}"
    part = request if rule.body == "*" else getattr(request, rule.body)
    return json_format.MessageToJson(part).encode()


def rest_query(rpc: Rpc, binding: HttpBinding, request: Message) -> dict[str, str]:
    """Set top-level scalar fields not bound in the path, as query parameters (lowerCamelCase)."""
    bound = set(re.findall(r"\{([^}=.]+)", binding.template))
    params: dict[str, str] = {}
    descriptor: Any = request.DESCRIPTOR
    for fd in descriptor.fields:
        if fd.is_repeated or fd.message_type is not None or fd.name in bound:
            continue
        value = getattr(request, fd.name)
        if value not in ("", 0, False):
            params[fd.json_name] = str(value)
    return params


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    reason: str = ""
    # Everything the caller received (response message or error text and details), for leak checks.
    body: bytes = b""

    def __str__(self) -> str:
        return f"{self.code.name}{f' ({self.reason})' if self.reason else ''}"


OK = Outcome(grpc.StatusCode.OK)


def outcome_of_grpc_error(error: grpc.aio.AioRpcError) -> Outcome:
    reason = ""
    body = (error.details() or "").encode()
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            body += value
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    reason = info.reason
    return Outcome(error.code(), reason, body)


_HTTP_TO_GRPC = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def outcome_of_http(response: httpx.Response) -> Outcome:
    """The google.rpc.Status a REST reply carries (transcoded or Envoy's own), else its HTTP status."""
    if 200 <= response.status_code < 300:
        return Outcome(grpc.StatusCode.OK, body=response.content)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        reason = next(
            (
                str(d.get("reason", ""))
                for d in body.get("details", [])
                if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo")
            ),
            "",
        )
        return Outcome(STATUS_BY_NUMBER.get(body["code"], grpc.StatusCode.UNKNOWN), reason, response.content)
    return Outcome(_HTTP_TO_GRPC.get(response.status_code, grpc.StatusCode.UNKNOWN), f"HTTP {response.status_code}")


class Caller(Protocol):
    """Calls one RPC with a bearer token and x-tenant-id; ``request`` defaults to minimal_request."""

    def __call__(
        self, rpc: Rpc, token: str | None, tenant: str | None, request: Message | None = None
    ) -> Awaitable[Outcome]: ...


def metadata_for(token: str | None, tenant: str | None) -> tuple[tuple[str, str], ...]:
    metadata: list[tuple[str, str]] = []
    if token is not None:
        metadata.append(("authorization", f"Bearer {token}"))
    if tenant is not None:
        metadata.append(("x-tenant-id", tenant))
    return tuple(metadata)


class GrpcCaller:
    """Calls each RPC straight on the server that hosts it.

    With mesh TLS (``tls``) the call presents the tester's certificate, or for an internal-only
    RPC the certificate of a service allowed to call it, so that the tokens are what is tested
    (identities have their own tests: tests/grpc/test_mesh_tls.py).
    """

    def __init__(self, tls: MeshTls | None = None, identity: str | None = None) -> None:
        self._tls = tls
        # Always this identity, allowed or not.
        self._identity = identity
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}

    def _channel(self, rpc: Rpc) -> grpc.aio.Channel:
        caller = self._identity or (min(rpc.policy.callers) if rpc.policy.callers else TESTER)
        channel = self._channels.get((rpc.address, caller))
        if channel is None:
            channel = self._channels[(rpc.address, caller)] = (
                grpc.aio.insecure_channel(rpc.address)
                if self._tls is None
                else mesh_channel(self._tls, rpc.address, rpc.server, caller)
            )
        return channel

    async def __call__(
        self, rpc: Rpc, token: str | None, tenant: str | None, request: Message | None = None
    ) -> Outcome:
        channel = self._channel(rpc)
        request = request if request is not None else minimal_request(rpc)
        serialize = type(request).SerializeToString
        metadata = metadata_for(token, tenant)
        received = b""
        try:
            if rpc.method.server_streaming:
                stream: Any = channel.unary_stream(rpc.path, request_serializer=serialize)
                async for message in stream(request, metadata=metadata, timeout=10):
                    received += message
            elif rpc.method.client_streaming:
                # A stream of the one request (an upload of a few bytes).
                upload: Any = channel.stream_unary(rpc.path, request_serializer=serialize)
                received = await upload(iter([request]), metadata=metadata, timeout=10)
            else:
                unary: Any = channel.unary_unary(rpc.path, request_serializer=serialize)
                received = await unary(request, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as error:
            return outcome_of_grpc_error(error)
        return Outcome(grpc.StatusCode.OK, body=received)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


class RestCaller:
    """Calls an RPC's REST binding (see rest_rpcs) through the edge: method + path with ids filled in."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __call__(
        self, rpc: Rpc, token: str | None, tenant: str | None, request: Message | None = None
    ) -> Outcome:
        binding = rpc.binding
        assert binding is not None, f"{rpc} has no REST binding"
        message = request if request is not None else minimal_request(rpc)
        body = rest_body(rpc, binding, message if request is not None else None)
        headers = dict(metadata_for(token, tenant))
        if body is not None:
            headers["content-type"] = "application/json"
        params = rest_query(rpc, binding, message) if request is not None and body is None else None
        response = await self._client.request(
            binding.verb, rest_path(binding, message), headers=headers, content=body, params=params
        )
        return outcome_of_http(response)


# --------------------------------------------------------------------------- forged tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return payload


def tampered(token: str, **changes: Any) -> str:
    """The token with some claims changed and the original header and signature kept."""
    header, _, signature = token.split(".")
    payload = {**claims_of(token), **changes}
    return f"{header}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}.{signature}"


def unsigned(token: str) -> str:
    """``alg: none``: the token's claims, no signature."""
    header = {"alg": "none", "typ": "JWT", "kid": jwt.get_unverified_header(token).get("kid", "")}
    payload = json.dumps(claims_of(token), separators=(",", ":")).encode()
    return f"{_b64(json.dumps(header).encode())}.{_b64(payload)}."


def hs256_with_public_key(token: str, public_pem: bytes) -> str:
    """Algorithm confusion: HS256 "signed" with the public key PEM as the HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": jwt.get_unverified_header(token).get("kid", "")}
    payload = json.dumps(claims_of(token), separators=(",", ":")).encode()
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def expired_like(mesh: Platform, token: str) -> str:
    """The token's claims re-signed with the platform's real signing key, expired an hour ago."""
    key = await mesh.auth_app.keys.active()
    now = int(time.time())
    payload = {**claims_of(token), "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600, "jti": str(uuid.uuid4())}
    return jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


async def public_key_pem(mesh: Platform) -> bytes:
    key = await mesh.auth_app.keys.active()
    return key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Case:
    name: str
    token: str | None
    tenant: str | None
    # What a correct refusal looks like: (code, reason) with "" for any reason.
    expected: frozenset[tuple[grpc.StatusCode, str]]
    applies: Callable[[Rpc], bool] = lambda rpc: True
    # Cases run after the world's tenant B was suspended.
    after_suspension: bool = False

    def accepts(self, outcome: Outcome) -> bool:
        return any(code == outcome.code and reason in ("", outcome.reason) for code, reason in self.expected)


@dataclass
class World:
    mesh: Platform
    tenant_a: str
    tenant_b: str
    slugs: tuple[str, str]
    platform_admin: str
    tokens: dict[str, str] = field(default_factory=dict)

    def cases(self) -> list[Case]:
        unauthenticated = frozenset({(UNAUTHENTICATED, "")})
        denied = frozenset({(PERMISSION_DENIED, "PERMISSION_DENIED")})
        mismatch = frozenset({(PERMISSION_DENIED, "TENANT_MISMATCH")})
        member_permissions = frozenset(str(p) for p in claims_of(self.tokens["member_a"])["perms"])
        a, b = self.tenant_a, self.tenant_b
        tenant_scoped: Callable[[Rpc], bool] = lambda rpc: rpc.policy.scope is Scope.TENANT  # noqa: E731
        suspended = frozenset({(UNAUTHENTICATED, ""), (grpc.StatusCode.FAILED_PRECONDITION, "TENANT_SUSPENDED")})
        return [
            Case("no_token", None, a, unauthenticated),
            Case("token_of_other_tenant", self.tokens["admin_b"], a, mismatch, applies=tenant_scoped),
            # A platform administrator acts in a tenant only through the RPCs declared platform_override.
            Case(
                "platform_admin_without_override",
                self.platform_admin,
                a,
                mismatch,
                applies=lambda rpc: tenant_scoped(rpc) and not rpc.policy.platform_override,
            ),
            Case(
                "member_without_permission",
                self.tokens["member_a"],
                a,
                denied,
                applies=lambda rpc: rpc.policy.permission not in member_permissions,
            ),
            # The member case leaves out the member role's own permissions (auth.self, member_default):
            # a custom role holding only READER_PERMISSIONS tests those too.
            Case(
                "custom_role_without_permission",
                self.tokens["reader_a"],
                a,
                denied,
                applies=lambda rpc: rpc.policy.permission not in READER_PERMISSIONS,
            ),
            Case("expired", self.tokens["expired"], a, unauthenticated),
            Case("alg_none", self.tokens["alg_none"], a, unauthenticated),
            Case("hs256_public_key", self.tokens["hs256"], a, unauthenticated),
            Case("tampered_permissions", self.tokens["tampered_perms"], a, unauthenticated),
            Case("tampered_tenant", self.tokens["tampered_tenant"], a, unauthenticated),
            Case("revoked_session", self.tokens["revoked"], a, unauthenticated),
            Case("suspended_tenant_admin", self.tokens["admin_b"], b, suspended, after_suspension=True),
            Case("suspended_tenant_member", self.tokens["member_b"], b, suspended, after_suspension=True),
        ]

    async def suspend_b(self) -> None:
        # A fresh session: a leak earlier in the matrix may have ended the first one.
        admin = bearer(await self.mesh.admin_token())
        await self.mesh.tenants.SuspendTenant(
            tenant_service_pb2.SuspendTenantRequest(tenant_id=self.tenant_b), metadata=admin
        )
        # Every service must see it within a second; give it a little more before judging.
        await _until_refused(
            lambda: self.mesh.auth.GetMe(auth_service_pb2.GetMeRequest(), metadata=bearer(self.tokens["admin_b"])),
            seconds=3,
        )

    async def cleanup(self) -> None:
        """Deletes both tenants (their databases on MariaDB)."""
        admin = bearer(await self.mesh.admin_token())
        for tenant_id in (self.tenant_a, self.tenant_b):
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self.mesh.tenants.DeleteTenant(
                    tenant_service_pb2.DeleteTenantRequest(tenant_id=tenant_id), metadata=admin
                )


async def _until_refused(call: Callable[[], Awaitable[Any]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            await call()
        except grpc.aio.AioRpcError:
            return
        await asyncio.sleep(0.05)


async def _create_user(mesh: Platform, admin_token: str, tenant_id: str, stem: str, role: str) -> str:
    email = f"{stem}-{uuid.uuid4().hex[:8]}@example.test"
    await mesh.admin_stub("UserService").CreateUser(
        admin_service_pb2.CreateUserRequest(user=user_pb2.User(email=email), password=USER_PASSWORD, roles=[role]),
        metadata=(*bearer(admin_token), ("x-tenant-id", tenant_id)),
    )
    return email


async def _create_reader_role(mesh: Platform, platform_admin: str, tenant_id: str) -> str:
    """A custom role of the tenant holding READER_PERMISSIONS only; returns its name."""
    name = f"reader-{uuid.uuid4().hex[:8]}"
    await mesh.admin_stub("RoleService").CreateRole(
        admin_service_pb2.CreateRoleRequest(role=user_pb2.Role(name=name, permissions=sorted(READER_PERMISSIONS))),
        metadata=(*bearer(platform_admin), ("x-tenant-id", tenant_id)),
    )
    return name


async def build_world(mesh: Platform) -> World:
    """Tenants A and B, a tenant admin and a member in each, a holder of a custom role in A that
    grants READER_PERMISSIONS only, and every token the cases use."""
    platform_admin = (await mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)).access_token
    stem = uuid.uuid4().hex[:8]
    slug_a, slug_b = f"iso-a-{stem}", f"iso-b-{stem}"
    tenant_a = (await mesh.create_tenant(slug_a)).tenant_id
    tenant_b = (await mesh.create_tenant(slug_b)).tenant_id
    world = World(mesh, tenant_a, tenant_b, (slug_a, slug_b), platform_admin)
    users = {
        "admin_a": (slug_a, await _create_user(mesh, platform_admin, tenant_a, "admin-a", "tenant-admin")),
        "member_a": (slug_a, await _create_user(mesh, platform_admin, tenant_a, "member-a", "member")),
        "admin_b": (slug_b, await _create_user(mesh, platform_admin, tenant_b, "admin-b", "tenant-admin")),
        "member_b": (slug_b, await _create_user(mesh, platform_admin, tenant_b, "member-b", "member")),
        "reader_a": (
            slug_a,
            await _create_user(
                mesh, platform_admin, tenant_a, "reader-a", await _create_reader_role(mesh, platform_admin, tenant_a)
            ),
        ),
    }
    for name, (slug, email) in users.items():
        world.tokens[name] = (await mesh.login(slug, email, USER_PASSWORD)).access_token
    # The custom role's holder holds what it grants, nothing more (else its case tests less than it says).
    assert set(claims_of(world.tokens["reader_a"])["perms"]) == READER_PERMISSIONS

    # Forgeries start from the most powerful real token there is: the platform admin's.
    world.tokens["expired"] = await expired_like(mesh, platform_admin)
    world.tokens["alg_none"] = unsigned(platform_admin)
    world.tokens["hs256"] = hs256_with_public_key(platform_admin, await public_key_pem(mesh))
    world.tokens["tampered_perms"] = tampered(world.tokens["member_a"], perms=["*"], roles=["platform-admin"])
    world.tokens["tampered_tenant"] = tampered(world.tokens["admin_b"], tid=tenant_a)

    # A session of admin A that has logged out.
    slug, email = users["admin_a"]
    revoked = (await mesh.login(slug, email, USER_PASSWORD)).access_token
    await mesh.auth.Logout(auth_service_pb2.LogoutRequest(), metadata=bearer(revoked))
    await _until_refused(lambda: mesh.auth.GetMe(auth_service_pb2.GetMeRequest(), metadata=bearer(revoked)), 3)
    world.tokens["revoked"] = revoked
    return world


# --------------------------------------------------------------------------- the matrix


@dataclass
class MatrixResult:
    rpcs: int = 0
    protected: int = 0
    public: int = 0
    checks: int = 0
    per_case: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)

    def summary(self, transport: str) -> str:
        cases = ", ".join(f"{name} {count}" for name, count in self.per_case.items())
        return (
            f"isolation matrix over {transport}: {self.rpcs} RPCs ({self.protected} protected, "
            f"{self.public} public), {self.checks} checks [{cases}], {len(self.leaks)} leaks"
        )


async def run_matrix(world: World, rpcs: Iterable[Rpc], call: Caller) -> MatrixResult:
    """Runs every applicable case against every RPC; returns counts and the leaks found."""
    rpcs = list(rpcs)
    result = MatrixResult(rpcs=len(rpcs))
    protected = [rpc for rpc in rpcs if not rpc.policy.public]
    result.protected = len(protected)
    result.public = len(rpcs) - len(protected)

    for rpc in rpcs:
        if rpc.policy.public:
            outcome = await call(rpc, None, None)
            result.checks += 1
            result.per_case["public_without_token"] = result.per_case.get("public_without_token", 0) + 1
            if outcome.code in AUTH_CODES:
                result.leaks.append(f"public_without_token      {rpc}: refused with {outcome}")

    cases = world.cases()
    for phase in (False, True):
        if phase:
            await world.suspend_b()
        for case in cases:
            if case.after_suspension is not phase:
                continue
            for rpc in protected:
                if not case.applies(rpc):
                    continue
                outcome = await call(rpc, case.token, case.tenant)
                result.checks += 1
                result.per_case[case.name] = result.per_case.get(case.name, 0) + 1
                if not case.accepts(outcome):
                    expected = " or ".join(
                        f"{c.name}{f' ({r})' if r else ''}" for c, r in sorted(case.expected, key=str)
                    )
                    result.leaks.append(f"{case.name:25} {rpc}: expected {expected}, got {outcome}")
    return result


# --------------------------------------------------------------------------- the shared person
#
# Tenant A and tenant B; a person homed in A who is also a member of B; people of A only (a
# member, A's administrator) and the platform administrator. Every RPC of every served service
# is called as B's administrator in tenant B with each of them as the target (every user id and
# email field of the request set to theirs, every other id to tenant A's). Afterwards no answer
# may have carried anything of A (its id, its A-only people's ids, or an email the request did not
# send), the shared person's identity and A membership must be as before, and nothing of A may
# have changed. The one thing B may change is its own membership of the shared person.


@dataclass(frozen=True)
class Person:
    name: str
    user_id: str
    email: str
    # Tenant slug they log in to, and their token there (to check nothing of theirs was revoked).
    slug: str
    token: str = ""


@dataclass
class SharedWorld:
    mesh: Platform
    tenant_a: str
    tenant_b: str
    slugs: tuple[str, str]
    platform_admin: str
    admin_b: Person
    shared: Person
    a_only: list[Person]
    operator: Person
    # Ids, names and addresses of what A holds (see seed_tenant_a).
    resources_of_a: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[Person]:
        return [self.shared, *self.a_only, self.operator]

    def secrets_of_a(self) -> list[bytes]:
        """What no answer to B may contain, whatever was asked: A's id, its A-only people's ids, and
        the ids, names and addresses of what A holds (an invitation, a custom role, a service
        account, and where those services run a form, a webhook, a custom menu entry).
        (The platform administrator's id may: their acts in B are in B's audit log, by design.)"""
        return [
            self.tenant_a.encode(),
            *(p.user_id.encode() for p in self.a_only),
            *(r.encode() for r in self.resources_of_a),
        ]

    async def admin_b_token(self) -> str:
        """B's administrator's token, logged in again if a call (Logout...) ended the session."""
        try:
            await self.mesh.auth.GetMe(auth_service_pb2.GetMeRequest(), metadata=bearer(self.admin_b.token))
        except grpc.aio.AioRpcError:
            token = (await self.mesh.login(self.admin_b.slug, self.admin_b.email, USER_PASSWORD)).access_token
            self.admin_b = dataclasses.replace(self.admin_b, token=token)
        return self.admin_b.token

    async def ensure_shared_in_b(self) -> None:
        """Puts the shared person back into B (a call may legitimately have removed them)."""
        admin = bearer(self.platform_admin)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self.mesh.admin_stub("MembershipService").AddMembership(
                admin_service_pb2.AddMembershipRequest(user_id=self.shared.user_id),
                metadata=(*admin, ("x-tenant-id", self.tenant_b)),
            )

    async def snapshot_of_a(self) -> dict[str, list[tuple[Any, ...]]]:
        """Everything of A, and every identity of the targets, as rows."""
        from sqlalchemy import select  # noqa: PLC0415 - only the shared-person matrix reads tables

        from services.auth import models  # noqa: PLC0415

        ids = [p.user_id for p in self.targets]
        a = self.tenant_a
        queries: dict[str, Any] = {
            "identities": select(models.UserRow).where(models.UserRow.user_id.in_(ids)),
            "memberships_of_a": select(models.MembershipRow).where(models.MembershipRow.tenant_id == a),
            "memberships_elsewhere": select(models.MembershipRow).where(
                models.MembershipRow.user_id.in_(ids), models.MembershipRow.tenant_id != self.tenant_b
            ),
            "roles_of_a": select(models.RoleRow).where(models.RoleRow.tenant_id == a),
            "service_accounts_of_a": select(models.ServiceAccountRow).where(models.ServiceAccountRow.tenant_id == a),
            "mfa_policy_of_a": select(models.MfaPolicyRow).where(models.MfaPolicyRow.tenant_id == a),
            "second_factors": select(models.TotpRow).where(models.TotpRow.user_id.in_(ids)),
            "recovery_codes": select(models.RecoveryCodeRow).where(models.RecoveryCodeRow.user_id.in_(ids)),
            "sessions_of_a": select(models.SessionRow).where(models.SessionRow.tenant_id == a),
            "invitations_of_a": select(models.InvitationRow).where(models.InvitationRow.tenant_id == a),
            # Reset links are left out: anyone may ask for one to be mailed to its owner (public, rate
            # limited, the same answer for everyone), so B asking is not an edit of A.
            "mailed_tokens": select(models.UserTokenRow).where(
                models.UserTokenRow.user_id.in_(ids), models.UserTokenRow.purpose != "RESET_PASSWORD"
            ),
        }
        snapshot: dict[str, list[tuple[Any, ...]]] = {}
        async with self.mesh.runtime.db.core_session() as session:
            for name, query in queries.items():
                rows = (await session.execute(query)).scalars()
                snapshot[name] = sorted(tuple(getattr(row, c.key) for c in row.__table__.columns) for row in rows)
        return snapshot

    async def cleanup(self) -> None:
        admin = bearer(await self.mesh.admin_token())
        for tenant_id in (self.tenant_a, self.tenant_b):
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self.mesh.tenants.DeleteTenant(
                    tenant_service_pb2.DeleteTenantRequest(tenant_id=tenant_id), metadata=admin
                )


async def _person(mesh: Platform, admin_token: str, tenant_id: str, slug: str, stem: str, role: str) -> Person:
    email = f"{stem}-{uuid.uuid4().hex[:8]}@example.test"
    created = await mesh.admin_stub("UserService").CreateUser(
        admin_service_pb2.CreateUserRequest(user=user_pb2.User(email=email), password=USER_PASSWORD, roles=[role]),
        metadata=(*bearer(admin_token), ("x-tenant-id", tenant_id)),
    )
    token = (await mesh.login(slug, email, USER_PASSWORD)).access_token
    return Person(stem, created.user.user_id, email, slug, token)


async def seed_tenant_a(mesh: Platform, admin_a: Person, tenant_a: str) -> list[str]:
    """One of each listable thing of A, made by A's administrator, so that a list, get or search of
    B's that reaches into A has something to show; returns what identifies them."""
    meta = (*bearer(admin_a.token), ("x-tenant-id", tenant_a))
    mark = f"a-secret-{uuid.uuid4().hex[:10]}"
    invited = f"{mark}@example.test"
    invitation = await mesh.admin_stub("InvitationService").CreateInvitation(
        admin_service_pb2.CreateInvitationRequest(email=invited, roles=["member"]), metadata=meta
    )
    await mesh.admin_stub("RoleService").CreateRole(
        admin_service_pb2.CreateRoleRequest(role=user_pb2.Role(name=f"{mark}-role", permissions=["auth.users.list"])),
        metadata=meta,
    )
    account = await mesh.admin_stub("ServiceAccountService").CreateServiceAccount(
        admin_service_pb2.CreateServiceAccountRequest(
            service_account=user_pb2.ServiceAccount(name=f"{mark}-robot", roles=["member"])
        ),
        metadata=meta,
    )
    found = [
        invitation.invitation.invitation_id,
        invited,
        f"{mark}-role",
        account.service_account.service_account_id,
        f"{mark}-robot",
    ]
    running = {item.app.name for item in mesh.started}
    if "forms" in running:
        forms: Any = form_service_pb2_grpc.FormServiceStub(mesh.channel("forms"))
        await forms.CreateForm(
            form_service_pb2.CreateFormRequest(form=form_service_pb2.Form(key=f"{mark}-form", title=f"{mark} form")),
            metadata=meta,
        )
        found += [f"{mark}-form"]
    if "webhooks" in running:
        hooks: Any = webhook_service_pb2_grpc.WebhookServiceStub(mesh.channel("webhooks"))
        # A public address (private ones are refused), for an event nothing makes in A during the
        # matrix, so nothing is ever sent there.
        created = await hooks.CreateWebhook(
            webhook_service_pb2.CreateWebhookRequest(
                webhook=webhook_service_pb2.Webhook(
                    url=f"https://1.1.1.1/{mark}", event_types=["form.submission.created"]
                )
            ),
            metadata=meta,
        )
        found += [created.webhook.webhook_id]
    if "menus" in running:
        menus: Any = menu_service_pb2_grpc.MenuServiceStub(mesh.channel("menus"))
        await menus.CreateCustomEntry(
            menu_service_pb2.CreateCustomEntryRequest(
                custom_entry=menu_pb2.CustomEntry(
                    entry_id=f"{mark}-entry", kind=menu_pb2.ENTRY_KIND_ROUTE, label=f"{mark} entry", route=f"/{mark}"
                )
            ),
            metadata=meta,
        )
        found += [f"{mark}-entry"]
    return found


async def build_shared_world(mesh: Platform) -> SharedWorld:
    platform_admin = (await mesh.login("platform", ADMIN_EMAIL, ADMIN_PASSWORD)).access_token
    stem = uuid.uuid4().hex[:8]
    slug_a, slug_b = f"sp-a-{stem}", f"sp-b-{stem}"
    tenant_a = (await mesh.create_tenant(slug_a)).tenant_id
    tenant_b = (await mesh.create_tenant(slug_b)).tenant_id
    shared = await _person(mesh, platform_admin, tenant_a, slug_a, "shared", "tenant-admin")
    admin_a = await _person(mesh, platform_admin, tenant_a, slug_a, "admin-a", "tenant-admin")
    member_a = await _person(mesh, platform_admin, tenant_a, slug_a, "member-a", "member")
    admin_b = await _person(mesh, platform_admin, tenant_b, slug_b, "admin-b", "tenant-admin")
    me = await mesh.auth.GetMe(auth_service_pb2.GetMeRequest(), metadata=bearer(platform_admin))
    operator = Person("platform-admin", me.user.user_id, ADMIN_EMAIL, "platform", platform_admin)
    world = SharedWorld(
        mesh, tenant_a, tenant_b, (slug_a, slug_b), platform_admin, admin_b, shared, [admin_a, member_a], operator
    )
    world.resources_of_a = await seed_tenant_a(mesh, admin_a, tenant_a)
    await world.ensure_shared_in_b()
    return world


def _fill_targets(message: Message, person: Person, tenant_a: str, depth: int = 0) -> None:
    """Every user id field -> the person's id, email field -> their email, other ids -> tenant A's."""
    descriptor: Any = message.DESCRIPTOR
    for fd in descriptor.fields:
        if fd.containing_oneof is not None and message.WhichOneof(fd.containing_oneof.name) not in (None, fd.name):
            continue
        if fd.type == FieldDescriptor.TYPE_STRING and not fd.is_repeated:
            if fd.name == "user_id":
                setattr(message, fd.name, person.user_id)
            elif fd.name == "email" or fd.name.endswith("_email"):
                if not fd.GetOptions().deprecated:
                    setattr(message, fd.name, person.email)
            elif fd.name == "id" or fd.name.endswith("_id"):
                setattr(message, fd.name, tenant_a)
            elif fd.name == "tenant":  # slug or id of a tenant to act on (login, switch)
                setattr(message, fd.name, person.slug if person.slug != "platform" else tenant_a)
        elif fd.message_type is not None and fd.message_type.full_name == "google.protobuf.FieldMask":
            # Every path the field allows: the call reaches the handler and tries to change everything.
            allowed = list(getattr(fd.GetOptions().Extensions[validate_pb2.field].field_mask, "in"))
            if allowed:
                getattr(message, fd.name).paths.extend(allowed)
        elif (
            fd.message_type is not None
            and not fd.is_repeated
            and depth < 2
            and not fd.message_type.full_name.startswith(_WELL_KNOWN)
        ):
            child = message_factory.GetMessageClass(fd.message_type)()
            _fill_targets(child, person, tenant_a, depth + 1)
            if child.ListFields():
                getattr(message, fd.name).CopyFrom(child)


def shared_person_request(rpc: Rpc, person: Person, tenant_a: str) -> Message:
    request: Message = message_factory.GetMessageClass(rpc.method.input_type)()
    _fill_targets(request, person, tenant_a)
    return request


@dataclass
class SharedResult:
    calls: int = 0
    rpcs: int = 0
    answered_ok: int = 0
    leaks: list[str] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)

    def summary(self, transport: str) -> str:
        return (
            f"shared-person matrix over {transport}: {self.rpcs} RPCs x targets = {self.calls} calls as B's admin "
            f"({self.answered_ok} answered OK), {len(self.leaks)} leaks, {len(self.edits)} foreign edits"
        )


async def run_shared_person_matrix(world: SharedWorld, rpcs: Iterable[Rpc], call: Caller) -> SharedResult:
    rpcs = list(rpcs)
    result = SharedResult(rpcs=len(rpcs))
    before = await world.snapshot_of_a()
    a_secrets = world.secrets_of_a()
    # Addresses B has put in a request itself (an invitation it sent, a user it made) may come back.
    told_by_b: set[bytes] = set()
    for rpc in rpcs:
        for person in world.targets:
            await world.ensure_shared_in_b()
            request = shared_person_request(rpc, person, world.tenant_a)
            told_by_b.add(person.email.encode())
            outcome = await call(rpc, await world.admin_b_token(), world.tenant_b, request)
            result.calls += 1
            result.answered_ok += outcome.code == grpc.StatusCode.OK
            body = outcome.body.lower()
            for secret in a_secrets:
                if secret.lower() in body:
                    result.leaks.append(f"{rpc} -> {person.name}: {outcome} carried {secret.decode()}")
            for other in (*world.a_only, world.operator):
                if other.email.encode() in body and other.email.encode() not in told_by_b:
                    result.leaks.append(f"{rpc} -> {person.name}: {outcome} carried {other.email}")
            if outcome.code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                result.leaks.append(f"{rpc} -> {person.name}: {outcome} (a client's input must never cause this)")
    after = await world.snapshot_of_a()
    for name, rows in before.items():
        if after[name] != rows:
            result.edits.append(f"{name} changed: {rows} -> {after[name]}")
    # Nobody of A lost a session to B's calls.
    for person in (world.shared, *world.a_only):
        try:
            await world.mesh.auth.GetMe(auth_service_pb2.GetMeRequest(), metadata=bearer(person.token))
        except grpc.aio.AioRpcError as error:
            result.edits.append(f"{person.name}'s session in A was ended: {outcome_of_grpc_error(error)}")
    return result
