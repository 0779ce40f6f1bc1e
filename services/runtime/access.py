"""Access policies declared in the protos, read once at startup.

Each RPC carries a ``(tenantmesh.type.v1.access)`` method option. The server
refuses to start when a served method has none, so a new RPC cannot ship
without someone deciding who may call it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor
from tenantmesh.type.v1 import access_pb2

# Protocol services every server hosts; they are not ours to annotate and are
# deliberately open (load balancers probe health, operators use reflection).
INFRASTRUCTURE_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)


# Services whose protos are not ours (vendored, so they carry no access option), with the policy
# of each of their methods declared here instead.
# The third value: its methods are on the edge's request path (MethodPolicy.edge_path).
PROTOCOL_POLICIES: dict[str, tuple[str, frozenset[str], bool]] = {
    # Envoy's rate limit service API: the edge asks it about every request it limits; it carries
    # no token (Envoy sends none), so only the edge's mesh identity lets it in.
    "envoy.service.ratelimit.v3.RateLimitService": ("", frozenset({"edge"}), True),
}


# The extension handle, typed loosely: the generated module is not type-checked.
_ACCESS: Any = access_pb2.access


class Scope(enum.Enum):
    TENANT = access_pb2.ACCESS_SCOPE_TENANT
    PLATFORM = access_pb2.ACCESS_SCOPE_PLATFORM


@dataclass(frozen=True)
class MethodPolicy:
    method: str  # "/package.Service/Method"
    permission: str
    public: bool
    scope: Scope
    server_streaming: bool
    platform_override: bool = False
    # The built-in member role holds the permission (AccessPolicy.member_default).
    member_default: bool = False
    # Internal-only RPCs: the services allowed to call (mesh identities); empty for any caller.
    callers: frozenset[str] = frozenset()
    # Only reads (AccessPolicy.read_only): its tenant reads may go to a read replica.
    read_only: bool = False
    # On the edge's request path (asked once per request the edge forwards): the caller check and
    # the error mapping run, nothing else (see PipelineInterceptor).
    edge_path: bool = False


class AccessPolicyError(RuntimeError):
    """A served RPC has no access policy, or an inconsistent one."""


def method_path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def policy_of(method: MethodDescriptor) -> MethodPolicy | None:
    options = method.GetOptions()
    if not options.HasExtension(_ACCESS):
        return None
    declared = options.Extensions[_ACCESS]
    return MethodPolicy(
        method=method_path(method),
        permission=declared.permission,
        public=declared.public,
        scope=Scope(declared.scope) if declared.scope else Scope.PLATFORM,
        server_streaming=method.server_streaming,
        platform_override=declared.platform_override,
        member_default=declared.member_default,
        callers=frozenset(declared.callers),
        read_only=declared.read_only,
    )


def load_policies(
    service_names: Iterable[str], pool: descriptor_pool.DescriptorPool | None = None
) -> dict[str, MethodPolicy]:
    """Returns the policy of every method of the named services, keyed by method path.

    Raises AccessPolicyError listing every method that lacks a usable policy.
    """
    pool = pool or descriptor_pool.Default()
    policies: dict[str, MethodPolicy] = {}
    problems: list[str] = []
    for name in service_names:
        if name in INFRASTRUCTURE_SERVICES:
            continue
        if name in PROTOCOL_POLICIES:
            policies.update(_protocol_policies(pool, name))
            continue
        for method in pool.FindServiceByName(name).methods:
            declared = method.GetOptions().Extensions[_ACCESS]
            policy = policy_of(method)
            path = method_path(method)
            if policy is None:
                problems.append(f"{path}: no (tenantmesh.type.v1.access) option")
            elif declared.scope == access_pb2.ACCESS_SCOPE_UNSPECIFIED:
                problems.append(f"{path}: access scope unspecified")
            elif policy.public == bool(policy.permission):
                problems.append(f"{path}: declare either public or a permission, exactly one")
            else:
                policies[path] = policy
    if problems:
        raise AccessPolicyError("refusing to serve RPCs without a valid access policy:\n  " + "\n  ".join(problems))
    return policies


def _protocol_policies(pool: descriptor_pool.DescriptorPool, name: str) -> dict[str, MethodPolicy]:
    permission, callers, edge_path = PROTOCOL_POLICIES[name]
    return {
        method_path(method): MethodPolicy(
            method=method_path(method),
            permission=permission,
            public=not permission,
            scope=Scope.PLATFORM,
            server_streaming=method.server_streaming,
            callers=callers,
            edge_path=edge_path,
        )
        for method in pool.FindServiceByName(name).methods
    }
