"""One service's clock off by 2 minutes, ahead and behind, while load runs on the others.

Access tokens are issued with the issuer's clock and checked with the verifier's: a token
from an auth process 2 minutes ahead (issued "in the future") or behind (issued "in the
past") must verify at a tenants process with a right clock, and a tenants process 2 minutes
off must accept a rightly issued token (the allowances: docs/resilience.md).

Leases too: a tenants process 2 minutes ahead runs its reconciler (every second) beside the
live one while the load creates tenants under 5 s provisioning leases; it must take over none
of them (leases are written and judged on the database's clock).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from tenantmesh.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_service_pb2, tenant_service_pb2_grpc

from tests.faults import report
from tests.faults.budget import FULL
from tests.faults.load import USER_PASSWORD, LoadGenerator
from tests.faults.platform import FaultPlatform, read_metric
from tests.faults.record import OK, Attempt, Operation, outcome_of
from tests.faults.scenario import Scenario
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.redis,
    pytest.mark.faults,
    pytest.mark.timeout(400),
    pytest.mark.skipif(not FULL, reason="four extra processes: make test-faults runs it"),
]

SKEW_SECONDS = 120
OFFSET = "TENANTMESH_FAULT_CLOCK_OFFSET_SECONDS"
# (skewed service, offset). A process is started for each, so the scenario runs only under
# ``make test-faults``: ``make test`` keeps the fault scenarios within their time budget.
CASES = (("auth", SKEW_SECONDS), ("auth", -SKEW_SECONDS), ("tenants", SKEW_SECONDS), ("tenants", -SKEW_SECONDS))
# How long the reconciler ahead runs beside the live worker while the load creates tenants.
LEASE_WATCH_SECONDS = 15.0
PROVISIONS = "tenantmesh_tenant_operation_duration_seconds_count"


async def _token_from(auth: ServiceProcess, platform: FaultPlatform) -> str:
    stub: Any = auth_service_pb2_grpc.AuthServiceStub(auth.channel)
    targets = platform.targets
    response = await stub.Login(
        auth_service_pb2.LoginRequest(tenant=targets.tenant_slug, email=targets.login_email, password=USER_PASSWORD),
        timeout=10,
    )
    return str(response.tokens.access_token)


async def _use(tenants: ServiceProcess, platform: FaultPlatform, token: str, operation: Operation) -> None:
    stub: Any = tenant_service_pb2_grpc.TenantServiceStub(tenants.channel)
    metadata = (("authorization", f"Bearer {token}"), ("x-tenant-id", platform.targets.tenant_id))
    started = time.monotonic()
    try:
        await stub.GetCurrentTenant(tenant_service_pb2.GetCurrentTenantRequest(), metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as error:
        operation.attempts.append(Attempt(started, time.monotonic(), outcome_of(error)))
        return
    operation.attempts.append(Attempt(started, time.monotonic(), OK))
    operation.acknowledged_ids.append(platform.targets.tenant_id)


async def test_tokens_verify_across_a_two_minute_clock_skew(
    fault_database_url: str, fault_redis_url: str, tmp_path: Path
) -> None:
    scenario = Scenario(fault_database_url, fault_redis_url)
    checks: list[tuple[str, Operation]] = []
    async with (
        scenario.platform(tmp_path / "mesh", with_services=True) as platform,
    ):
        load = LoadGenerator(platform.targets)
        async with scenario.loading(load, 600.0) as running:
            fault_start = time.monotonic()
            for index, (service, offset) in enumerate(CASES):
                metrics_port = free_port()
                env = {OFFSET: str(offset), "TENANTMESH_METRICS_PORT": str(metrics_port)}
                skewed = platform.mesh.spawn(service, instance=f"{service}-skewed-{index}", extra_env=env)
                await skewed.wait_serving(within_seconds=90)
                if service == "tenants" and offset > 0:
                    # It serves none of the load's creates: whatever it provisions, it took over.
                    creates_before = len(load.record.of_kind("tenant.create"))
                    await asyncio.sleep(LEASE_WATCH_SECONDS)
                    creates_during = len(load.record.of_kind("tenant.create")) - creates_before
                    taken_over = await read_metric(metrics_port, PROVISIONS, operation="provision")
                issuer = skewed if service == "auth" else platform.auth
                verifier = skewed if service == "tenants" else platform.tenants
                operation = Operation("token.verify", f"{service} {offset:+d} s")
                await _use(verifier, platform, await _token_from(issuer, platform), operation)
                checks.append((f"{service} {offset:+d} s", operation))
                await skewed.stop()
            fault_end = time.monotonic()
            load.stop()
            await running
            verdict = await scenario.check(load, run=platform.targets.run)

    load.record.operations.extend(op for _, op in checks)
    row = report.add(
        "clock skew",
        f"one process's clock {', '.join(name for name, _ in checks)}",
        load,
        verdict,
        fault_start,
        fault_end,
    )
    print(f"\n{report.table([row])}")
    for name, operation in checks:
        print(f"{name}: {[a.outcome for a in operation.attempts]}")
    print(
        f"reconciler {SKEW_SECONDS} s ahead for {LEASE_WATCH_SECONDS:.0f} s beside {creates_during} tenant creates:"
        f" took over {taken_over:.0f}"
    )
    assert not verdict.problems(), verdict.problems()
    assert load.record.acknowledged_writes(), "no write was acknowledged: the verdict compared nothing"
    refused = {name: [a.outcome for a in op.attempts] for name, op in checks if not op.acknowledged}
    assert not refused, f"tokens refused across the skew: {refused}"
    assert creates_during > 0
    assert taken_over == 0, f"a reconciler {SKEW_SECONDS} s ahead took over {taken_over:.0f} live tenants"
