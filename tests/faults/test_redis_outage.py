"""The platform's Redis is down for 30 s (12 s inside ``make test``) while load runs.

Reads keep working; writes are committed with their events in the outbox, which keeps every
one and delivers all of them once Redis is back, exactly once per consumer group after
deduplication; nothing is lost or duplicated. A session logged out during the outage is
refused by the tenants process within 2 s, while Redis is still down (it reads revocations
from the core database while its event stream is out). A tenant suspended during the outage
is refused at once by the tenants process, which made the change, and by the auth process
within its tenant cache's time to live (5 s here): the event that would drop its cached state
waits in the outbox (docs/resilience.md).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults import report
from tests.faults.budget import seconds
from tests.faults.load import ATTEMPT_DEADLINE_SECONDS, LoadGenerator
from tests.faults.probes import RevocationProbe, SuspensionProbe
from tests.faults.scenario import Scenario
from tests.support.own_redis import own_redis

pytestmark = [pytest.mark.mysql, pytest.mark.faults, pytest.mark.timeout(300)]

DOWN_SECONDS = seconds(full=30.0, short=12.0)
# Shortened: long enough for every kind of write to be under way before Redis goes.
FAULT_AFTER_SECONDS = seconds(full=6.0, short=4.0)
LOAD_SECONDS = FAULT_AFTER_SECONDS + DOWN_SECONDS + seconds(full=10.0, short=6.0)
RECOVERY_LIMIT_SECONDS = 5.0
ALLOWED_DURING_FAULT = frozenset({"UNAVAILABLE", "ABORTED"})
# A revocation reaches a process whose event stream is out through its next core database read
# (every second, services/runtime/auth/revocation_follower.py), plus the probe's interval.
REVOCATION_LIMIT_SECONDS = 2.0
# Short, so the bound is reached inside the outage: the suspension event waits in the outbox,
# and only the time to live can end a cached "active".
TENANT_CACHE_TTL_SECONDS = 5.0
# The probe's interval and a call's own time on top of the time to live.
STALE_SLACK_SECONDS = 1.0


async def test_redis_down_loses_nothing(fault_database_url: str, tmp_path: Path) -> None:
    async with own_redis(tmp_path / "redis") as redis_server:
        scenario = Scenario(fault_database_url, redis_server.url)
        env = {"TENANTMESH_TENANT_CACHE_TTL_SECONDS": str(TENANT_CACHE_TTL_SECONDS)}
        async with (
            scenario.platform(tmp_path / "mesh", env=env, with_services=True) as platform,
        ):
            probe = RevocationProbe(platform)
            await probe.log_in()
            suspension = SuspensionProbe(platform)
            await suspension.prepare()
            load = LoadGenerator(platform.targets)
            async with scenario.loading(load, LOAD_SECONDS) as running:
                await asyncio.sleep(FAULT_AFTER_SECONDS)
                fault_start = time.monotonic()
                await redis_server.stop()
                await asyncio.sleep(1.0)
                await probe.log_out()
                await probe.watch.run(until=probe.logged_out_at + 5)
                await suspension.suspend()
                await suspension.watch(until=suspension.suspended_at + TENANT_CACHE_TTL_SECONDS + 5)
                await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - fault_start)))
                still_down = time.monotonic() - fault_start
                await redis_server.start()
                fault_end = time.monotonic()
                await running
                verdict = await scenario.check(load, run=platform.targets.run)

    row = report.add(
        "Redis down", f"own Redis stopped for {fault_end - fault_start:.0f} s", load, verdict, fault_start, fault_end
    )
    revocation_lag = probe.watch.lag(probe.logged_out_at)
    stale = {"tenants": suspension.at_tenants, "auth": suspension.at_auth}
    stale_for = {name: watch.lag(suspension.suspended_at) for name, watch in stale.items()}
    print(
        f"\n{report.table([row])}\n{report.failure_timeline(load, fault_start)}"
        f"\nlogged-out token accepted by tenants {probe.watch.accepted} times, refused {revocation_lag} s after"
        f" the logout; suspended tenant's token refused after {stale_for} s"
        f" (tenant cache TTL {TENANT_CACHE_TTL_SECONDS} s); Redis was down for {still_down:.1f} s by then"
    )
    assert not verdict.problems(), verdict.problems()
    covered = load.record.acknowledged_kinds()
    assert {"service.enable", "form.submit"} <= covered, f"no enablement or no submission acknowledged: {covered}"
    failed_reads = [a.outcome for op, a in load.record.failed_attempts() if op.kind == "read"]
    assert not failed_reads, f"reads failed while Redis was down: {failed_reads}"
    wrong = {a.outcome for _, a in load.record.failed_attempts() if a.code not in ALLOWED_DURING_FAULT}
    assert not wrong, f"failures other than UNAVAILABLE/ABORTED: {wrong}"
    slow = [a for _, a in load.record.attempts() if a.ended - a.started > ATTEMPT_DEADLINE_SECONDS]
    assert not slow, f"{len(slow)} calls ran into the deadline"
    assert row.recovery_seconds <= RECOVERY_LIMIT_SECONDS
    # All of it while Redis was still down.
    assert revocation_lag is not None, f"never refused; other answers: {probe.watch.other_outcomes}"
    assert revocation_lag <= REVOCATION_LIMIT_SECONDS
    tenants_lag, auth_lag = stale_for["tenants"], stale_for["auth"]
    assert tenants_lag is not None, f"tenants never refused the suspended tenant: {stale['tenants'].other_outcomes}"
    assert auth_lag is not None, f"auth never refused the suspended tenant: {stale['auth'].other_outcomes}"
    # The process that suspended it drops its own cache at once; the other waits out its TTL.
    assert tenants_lag <= STALE_SLACK_SECONDS
    assert auth_lag <= TENANT_CACHE_TTL_SECONDS + STALE_SLACK_SECONDS
