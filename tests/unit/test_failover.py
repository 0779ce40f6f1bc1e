"""Which instance a caller moves to when one fails, and which calls may be sent again."""

from __future__ import annotations

import pytest
from tenantmesh.tenants.v1 import tenant_service_pb2  # noqa: F401  # the methods below, in the pool

from services.runtime.failover import Failover, only_reads

A, B, C = "10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.3:50051"


def test_a_failed_address_moves_the_service_to_another_known_instance() -> None:
    addresses = {"tenants": A}
    failover = Failover(addresses)
    failover.learn("tenants", [A, B, C])
    assert failover.reroute("tenants", A) == B
    assert addresses["tenants"] == B
    # A second call that found A dead keeps the address the first one moved to.
    assert failover.reroute("tenants", A) == B
    assert failover.reroute("tenants", B) == C
    assert addresses["tenants"] == C


def test_with_no_other_instance_nothing_moves() -> None:
    addresses = {"tenants": A}
    failover = Failover(addresses)
    failover.learn("tenants", [A])
    assert failover.reroute("tenants", A) is None
    assert addresses["tenants"] == A


def test_the_resolver_passes_over_a_failed_address_while_it_is_held() -> None:
    failover = Failover({"tenants": A}, hold_seconds=10)
    failover.learn("tenants", [A, B])
    failover.reroute("tenants", A)
    # The registry still lists A (it has not probed it yet): B is kept.
    assert failover.choose("tenants", B, [A, B]) == B
    assert failover.choose("tenants", A, [A, B]) == B


def test_a_failed_address_is_used_again_once_the_hold_ended() -> None:
    failover = Failover({"tenants": A}, hold_seconds=0)
    failover.learn("tenants", [A, B])
    failover.reroute("tenants", A)
    assert failover.choose("tenants", A, [A, B]) == A


def test_when_every_instance_failed_the_registry_wins() -> None:
    failover = Failover({"tenants": A})
    failover.learn("tenants", [A, B])
    failover.reroute("tenants", A)
    failover.reroute("tenants", B)
    assert failover.choose("tenants", B, [A, B]) == B
    assert failover.choose("tenants", "10.0.0.9:1", [A, B]) == A


@pytest.mark.parametrize(
    ("method", "reads"),
    [
        ("/tenantmesh.tenants.v1.TenantService/GetTenant", True),
        ("/tenantmesh.tenants.v1.TenantService/ListTenants", True),
        ("/tenantmesh.tenants.v1.TenantService/CreateTenant", False),
        ("/tenantmesh.tenants.v1.TenantService/SuspendTenant", False),
        ("/tenantmesh.nothing.v1.Unknown/GetThing", False),
    ],
)
def test_only_reads(method: str, reads: bool) -> None:
    assert only_reads(method) is reads
