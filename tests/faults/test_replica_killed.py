"""One of two tenants replicas SIGKILLed while load runs through the edge and from auth.

Two tenants processes serve behind one Envoy cluster, beside auth, the registry and forms, and
are registered in the registry (which health-checks them); the auth process reaches the tenants
service at the address its resolver takes from the registry (every user create and login looks
the tenant up there: auth's tenant cache is kept to 1 s so that this happens all the time). The
load, enablements and form submissions included, runs through the edge. Then the replica auth
uses, also one of the edge's two hosts, gets SIGKILL.

Checked: the registry marks it UNHEALTHY and Envoy takes it out of rotation within the stated
times; reads (GetTenant, not retried by the client) all succeed, since the edge sends a read cut
by the dying host again to the other one; no call auth makes to the tenants service fails (it
moves to the other known replica at once, without waiting for the registry); the failures
clients see are UNAVAILABLE, come only in the first seconds after the kill and every retried
create and login is acknowledged; the checker finds nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from tenantmesh.registry.v1 import instance_pb2, registry_service_pb2, registry_service_pb2_grpc

from tests.faults import report
from tests.faults.budget import FULL
from tests.faults.edge import fault_edge, load_targets
from tests.faults.load import LoadGenerator, bearer
from tests.faults.platform import FaultPlatform
from tests.faults.record import OK
from tests.faults.scenario import Scenario
from tests.support.processes import ServiceProcess

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.redis,
    pytest.mark.faults,
    pytest.mark.timeout(300),
    # Four service processes and Envoy to start: well over make test's share for one scenario.
    pytest.mark.skipif(not FULL, reason="make test-faults runs it"),
]

PUBLIC_URL = "https://localhost:8443"
# The registry probes every second and calls an instance UNHEALTHY at the second failure in a
# row; the resolvers ask it every second. Production's defaults are 10 s, 3 and 15 s: the same
# sequence, with the bound below growing accordingly (docs/resilience.md).
SETTINGS = {
    "TENANTMESH_PUBLIC_URL": PUBLIC_URL,
    "TENANTMESH_DISCOVERY": "on",
    "TENANTMESH_DISCOVERY_REFRESH_SECONDS": "1",
    "TENANTMESH_DISCOVERY_RETRY_SECONDS": "0.2",
    "TENANTMESH_REGISTRY_HEALTH_INTERVAL_SECONDS": "1",
    "TENANTMESH_REGISTRY_HEALTH_TIMEOUT_SECONDS": "0.5",
    "TENANTMESH_REGISTRY_HEALTH_UNHEALTHY_THRESHOLD": "2",
}
# Auth keeps a tenant 1 s (30 s by default), so its calls to the tenants service go on all the
# time rather than once per tenant and half minute.
AUTH_SETTINGS = {"TENANTMESH_TENANT_CACHE_TTL_SECONDS": "1"}
WARM_UP_SECONDS = 8.0
AFTER_KILL_SECONDS = 20.0
# Probe interval x threshold, the probe's timeout and a tick of the checker's loop.
REGISTRY_BOUND_SECONDS = 1.0 * 2 + 0.5 + 1.0 + 1.5
# Outlier detection ejects at the second connection failure; the active check (5 s, 2 failures)
# is the backstop.
EDGE_BOUND_SECONDS = 5.0
# Clients may see failures this long after the kill, and no later: a create cut
# mid-provisioning waiting out its lease (5 s) on the survivor, with the registry's bound as margin.
ERROR_WINDOW_SECONDS = 10.0
# What a service answers when its own call to another service failed. Auth knows both tenants
# instances from the registry and moves to the live one at the first call the dead one cannot
# take (services/runtime/failover.py), so a client never sees this.
DEPENDENCY_FAILED = "UNAVAILABLE/DEPENDENCY_UNAVAILABLE"
# What the edge did about it: retries, outlier ejections, connections refused.
EDGE_STATS = (
    r"^cluster\.tenants\.(upstream_rq_retry|upstream_rq_retry_success|outlier_detection\.ejections_enforced_total"
    r"|upstream_cx_connect_fail|upstream_cx_destroy_remote_with_active_rq)$"
)


async def _registered_health(registry: ServiceProcess, token: str) -> dict[str, str]:
    """The registry's tenants instances: health by address."""
    stub: Any = registry_service_pb2_grpc.InstanceServiceStub(registry.channel)
    listed = await stub.ListInstances(
        registry_service_pb2.ListInstancesRequest(services=["tenants"]), metadata=bearer(token), timeout=5
    )
    return {i.address: instance_pb2.HealthState.Name(i.health) for i in listed.instances}


async def _seconds_until(condition: Callable[[], Awaitable[bool]], since: float, within: float) -> float | None:
    """Seconds from ``since`` until ``condition()`` held (asked every 0.1 s), None if not ``within``.
    A call failing while it asks counts as not yet (the registry itself looks tenants up through
    the tenants service, so it too answers UNAVAILABLE until its resolver moved on)."""
    while time.monotonic() - since < within:
        try:
            if await condition():
                return time.monotonic() - since
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.1)
    return None


async def _replicas(platform: FaultPlatform) -> tuple[ServiceProcess, ServiceProcess]:
    """The registry and a second tenants process, once the registry holds both replicas healthy."""
    registry = platform.registry
    assert registry is not None, "the platform runs without its registry"
    second = await platform.start("tenants", instance="tenants-2")
    token = platform.targets.admin_token

    async def both_healthy() -> bool:
        health = await _registered_health(registry, token)
        return health == {platform.tenants.address: "HEALTH_STATE_HEALTHY", second.address: "HEALTH_STATE_HEALTHY"}

    assert await _seconds_until(both_healthy, time.monotonic(), 60) is not None, "replicas never both healthy"
    return registry, second


async def test_one_of_two_replicas_killed_costs_reads_nothing(
    fault_database_url: str, fault_redis_url: str, tmp_path: Path
) -> None:
    scenario = Scenario(fault_database_url, fault_redis_url)
    async with (
        scenario.platform(
            tmp_path / "mesh",
            env=SETTINGS,
            with_services=True,
            service_env={"auth": AUTH_SETTINGS},
        ) as platform,
    ):
        registry, second = await _replicas(platform)
        # The first replica is at the address every process is configured with: the one auth's
        # resolver keeps while it is healthy, so the kill hits auth's calls as well as the edge's.
        victim = platform.tenants
        async with (
            fault_edge(platform, tmp_path / "edge", PUBLIC_URL, replicas={"tenants": [second.address]}) as edge,
            load_targets(platform, edge) as through_edge,
        ):
            load = LoadGenerator(through_edge)
            async with scenario.loading(load, WARM_UP_SECONDS + AFTER_KILL_SECONDS) as running:
                await asyncio.sleep(WARM_UP_SECONDS)
                victim.process.kill()
                killed_at = time.monotonic()

                async def registry_says_unhealthy() -> bool:
                    health = await _registered_health(registry, platform.targets.admin_token)
                    return health.get(victim.address, "HEALTH_STATE_UNHEALTHY") == "HEALTH_STATE_UNHEALTHY"

                async def edge_took_it_out() -> bool:
                    return (await edge.host_health("tenants")).get(victim.address, "healthy") != "healthy"

                registry_seconds, edge_seconds = await asyncio.gather(
                    _seconds_until(registry_says_unhealthy, killed_at, 30),
                    _seconds_until(edge_took_it_out, killed_at, 30),
                )
                await running
                edge_flags = await edge.host_health("tenants")
                _, edge_stats = await edge.envoy.admin_get(f"/stats?filter={EDGE_STATS}") if edge.envoy else (0, "")
                verdict = await scenario.check(load, run=through_edge.run)

    row = report.add(
        "one of two tenants replicas killed",
        "SIGKILL of the replica auth uses, one of the edge's two hosts",
        load,
        verdict,
        killed_at,
        killed_at,
    )
    failed = load.record.failed_attempts()
    print(
        f"\n{report.table([row])}\n{report.failure_timeline(load, killed_at)}"
        f"\nregistry: UNHEALTHY after {registry_seconds} s; edge: out of rotation after {edge_seconds} s"
        f" ({edge_flags.get(victim.address)})\n{edge_stats.strip()}"
    )
    assert not verdict.problems(), verdict.problems()
    assert load.record.acknowledged_writes(), "no write was acknowledged: the verdict compared nothing"
    assert registry_seconds is not None, "the registry never marked the killed replica unhealthy"
    assert registry_seconds <= REGISTRY_BOUND_SECONDS
    assert edge_seconds is not None, "the edge kept the killed replica in rotation"
    assert edge_seconds <= EDGE_BOUND_SECONDS
    assert all(a.outcome == OK for op in load.record.of_kind("read") for a in op.attempts), "a read failed"
    assert {a.code for _, a in failed} <= {"UNAVAILABLE"}, {a.outcome for _, a in failed}
    moved_late = [a.started - killed_at for _, a in failed if a.outcome == DEPENDENCY_FAILED]
    assert not moved_late, f"auth's calls to the dead replica failed {moved_late} s after the kill"
    late = [a.started - killed_at for _, a in failed if a.started - killed_at > ERROR_WINDOW_SECONDS]
    assert not late, f"failures {late} s after the kill"
    unanswered = [op.key for op in load.record.operations if op.kind != "refresh" and not op.acknowledged]
    assert not unanswered, f"never acknowledged: {unanswered}"
