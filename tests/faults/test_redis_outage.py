"""The platform's Redis is down for 30 s (12 s inside ``make test``) while load runs.

Reads keep working; writes are committed with their events in the outbox, which keeps every
one and delivers all of them once Redis is back, exactly once per consumer group after
deduplication; nothing is lost or duplicated. A session logged out during the outage is
refused by the other processes within 5 s of Redis returning (while Redis is down, only the
auth process that revoked it knows: docs/resilience.md says which checks fail closed).
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
from tests.faults.budget import seconds
from tests.faults.checker import check
from tests.faults.load import ATTEMPT_DEADLINE_SECONDS, USER_PASSWORD, LoadGenerator
from tests.faults.observer import EventObserver
from tests.faults.platform import FaultPlatform, fault_platform, scenario_db_prefix
from tests.faults.redis_server import own_redis

pytestmark = [pytest.mark.mysql, pytest.mark.faults, pytest.mark.timeout(300)]

DOWN_SECONDS = seconds(full=30.0, short=12.0)
FAULT_AFTER_SECONDS = 6.0
LOAD_SECONDS = FAULT_AFTER_SECONDS + DOWN_SECONDS + seconds(full=10.0, short=6.0)
RECOVERY_LIMIT_SECONDS = 5.0
ALLOWED_DURING_FAULT = frozenset({"UNAVAILABLE", "ABORTED"})


class RevocationProbe:
    """A session logged out while Redis is down, presented to the tenants process until refused."""

    def __init__(self, platform: FaultPlatform) -> None:
        self._platform = platform
        self._auth: Any = auth_service_pb2_grpc.AuthServiceStub(platform.auth.channel)
        self._tenants: Any = tenant_service_pb2_grpc.TenantServiceStub(platform.tenants.channel)
        self.token = ""
        self.accepted_after_logout = 0
        self.refused_at: float | None = None
        self.other_outcomes: set[str] = set()

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"), ("x-tenant-id", self._platform.targets.tenant_id))

    async def log_in(self) -> None:
        targets = self._platform.targets
        response = await self._auth.Login(
            auth_service_pb2.LoginRequest(tenant=targets.tenant_slug, email=targets.login_email, password=USER_PASSWORD)
        )
        self.token = response.tokens.access_token
        await self._tenants.GetCurrentTenant(tenant_service_pb2.GetCurrentTenantRequest(), metadata=self._metadata())

    async def log_out(self) -> None:
        await self._auth.Logout(auth_service_pb2.LogoutRequest(), metadata=self._metadata(), timeout=10)

    async def watch(self, until: float) -> None:
        while self.refused_at is None and time.monotonic() < until:
            try:
                await self._tenants.GetCurrentTenant(
                    tenant_service_pb2.GetCurrentTenantRequest(), metadata=self._metadata(), timeout=5
                )
                self.accepted_after_logout += 1
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                    self.refused_at = time.monotonic()
                    return
                self.other_outcomes.add(error.code().name)
            await asyncio.sleep(0.2)


async def test_redis_down_loses_nothing(fault_database_url: str, tmp_path: Path) -> None:
    prefix = scenario_db_prefix()
    async with own_redis(tmp_path / "redis") as redis_server:
        observer = EventObserver(redis_server.url)
        async with fault_platform(
            fault_database_url, redis_server.url, tmp_path / "mesh", env={"TENANTMESH_TENANT_DB_PREFIX": prefix}
        ) as platform:
            await observer.start()
            running: asyncio.Task[None] | None = None
            try:
                probe = RevocationProbe(platform)
                await probe.log_in()
                load = LoadGenerator(platform.targets)
                running = asyncio.create_task(load.run(LOAD_SECONDS))
                await asyncio.sleep(FAULT_AFTER_SECONDS)
                fault_start = time.monotonic()
                await redis_server.stop()
                await asyncio.sleep(1.0)
                await probe.log_out()
                await asyncio.sleep(DOWN_SECONDS - (time.monotonic() - fault_start))
                await probe.watch(until=time.monotonic() + 0.5)  # still down: what the others do
                accepted_during_outage = probe.accepted_after_logout
                await redis_server.start()
                fault_end = time.monotonic()
                await probe.watch(until=fault_end + 15)
                await running
                verdict = await check(
                    load.record,
                    database_url=fault_database_url,
                    redis_url=redis_server.url,
                    observer=observer,
                    run=platform.targets.run,
                    tenant_db_prefix=prefix,
                )
            finally:
                if running is not None and not running.done():
                    running.cancel()
                await observer.close()

    row = report.add(
        "Redis down", f"own Redis stopped for {fault_end - fault_start:.0f} s", load, verdict, fault_start, fault_end
    )
    revocation_lag = None if probe.refused_at is None else probe.refused_at - fault_end
    print(
        f"\n{report.table([row])}\n{report.failure_timeline(load, fault_start)}"
        f"\nlogged-out token accepted by tenants during the outage: {accepted_during_outage} times;"
        f" refused {revocation_lag} s after Redis returned"
    )
    assert not verdict.problems(), verdict.problems()
    failed_reads = [a.outcome for op, a in load.record.failed_attempts() if op.kind == "read"]
    assert not failed_reads, f"reads failed while Redis was down: {failed_reads}"
    wrong = {a.outcome for _, a in load.record.failed_attempts() if a.code not in ALLOWED_DURING_FAULT}
    assert not wrong, f"failures other than UNAVAILABLE/ABORTED: {wrong}"
    slow = [a for _, a in load.record.attempts() if a.ended - a.started > ATTEMPT_DEADLINE_SECONDS]
    assert not slow, f"{len(slow)} calls ran into the deadline"
    assert row.recovery_seconds <= RECOVERY_LIMIT_SECONDS
    assert revocation_lag is not None, f"never refused; other answers: {probe.other_outcomes}"
    assert revocation_lag <= RECOVERY_LIMIT_SECONDS
