from __future__ import annotations

import re
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from tenantmesh.lifecycle.v1 import lifecycle_service_pb2
from tenantmesh.meta.v1 import meta_service_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2
from tenantmesh.type.v1 import access_pb2

from services.runtime.access import INFRASTRUCTURE_SERVICES, AccessPolicyError, Scope, load_policies

SERVED = {
    "tenantmesh.tenants.v1.TenantService": tenant_service_pb2,
    "tenantmesh.lifecycle.v1.TenantLifecycleService": lifecycle_service_pb2,
    "tenantmesh.meta.v1.MetaService": meta_service_pb2,
}


def test_every_served_method_has_a_policy() -> None:
    policies = load_policies([*SERVED, *INFRASTRUCTURE_SERVICES])
    expected = {
        f"/{name}/{method.name}"
        for name, module in SERVED.items()
        for method in module.DESCRIPTOR.services_by_name[name.rsplit(".", 1)[1]].methods
    }
    assert set(policies) == expected
    assert len(expected) >= 12
    for policy in policies.values():
        assert policy.public != bool(policy.permission)


def test_policies_carry_what_the_protos_declare() -> None:
    policies = load_policies(SERVED)
    create = policies["/tenantmesh.tenants.v1.TenantService/CreateTenant"]
    assert (create.permission, create.public, create.scope) == ("tenants.tenants.create", False, Scope.PLATFORM)
    current = policies["/tenantmesh.tenants.v1.TenantService/GetCurrentTenant"]
    assert (current.permission, current.scope) == ("tenants.current.get", Scope.TENANT)
    info = policies["/tenantmesh.meta.v1.MetaService/GetServerInfo"]
    assert info.public
    assert info.permission == ""
    assert policies["/tenantmesh.tenants.v1.TenantService/MigrateTenantDatabases"].server_streaming
    assert not create.server_streaming


def _pool_with_service(*methods: tuple[str, access_pb2.AccessPolicy | None]) -> descriptor_pool.DescriptorPool:
    """A private descriptor pool holding service ``probe.v1.Probe`` with the given methods."""
    file = descriptor_pb2.FileDescriptorProto(name="probe/v1/probe.proto", package="probe.v1", syntax="proto3")
    file.message_type.add(name="Empty")
    service = file.service.add(name="Probe")
    for name, policy in methods:
        method = service.method.add(name=name, input_type=".probe.v1.Empty", output_type=".probe.v1.Empty")
        if policy is not None:
            method.options.Extensions[ACCESS].CopyFrom(policy)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool


PLATFORM = access_pb2.ACCESS_SCOPE_PLATFORM
# The extension handle, typed loosely like the runtime does.
ACCESS: Any = access_pb2.access


def test_private_pool_with_valid_policy_loads() -> None:
    pool = _pool_with_service(("Declared", access_pb2.AccessPolicy(permission="probe.read", scope=PLATFORM)))
    policies = load_policies(["probe.v1.Probe"], pool=pool)
    assert policies["/probe.v1.Probe/Declared"].permission == "probe.read"


@pytest.mark.parametrize(
    "policy",
    [
        None,
        access_pb2.AccessPolicy(permission="probe.write"),  # scope unspecified
        access_pb2.AccessPolicy(permission="probe.write", public=True, scope=PLATFORM),  # both
        access_pb2.AccessPolicy(scope=PLATFORM),  # neither
    ],
    ids=["undeclared", "no-scope", "public-and-permission", "neither"],
)
def test_method_without_valid_policy_is_refused(policy: access_pb2.AccessPolicy | None) -> None:
    pool = _pool_with_service(
        ("Declared", access_pb2.AccessPolicy(permission="probe.read", scope=PLATFORM)),
        ("Broken", policy),
    )
    with pytest.raises(AccessPolicyError, match=re.escape("/probe.v1.Probe/Broken")):
        load_policies(["probe.v1.Probe"], pool=pool)


def test_every_broken_method_is_listed() -> None:
    pool = _pool_with_service(("First", None), ("Second", None))
    with pytest.raises(AccessPolicyError) as caught:
        load_policies(["probe.v1.Probe"], pool=pool)
    assert "/probe.v1.Probe/First" in str(caught.value)
    assert "/probe.v1.Probe/Second" in str(caught.value)
