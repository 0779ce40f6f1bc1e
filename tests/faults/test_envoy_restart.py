"""The edge (Envoy) is stopped and started again while load runs through it.

The load's clients talk to the services only through the edge, over one gRPC channel each,
as SDK clients do. Envoy gets SIGTERM (calls in flight are cut), stays down a moment and a
new process starts on the same ports. Clients must reconnect by themselves, every write
acknowledged before, during or after is in the database exactly once (creates retried with
their request id), and failures are only UNAVAILABLE (the edge unreachable, a call cut):
never INTERNAL/UNKNOWN, never a hang past the deadline.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults import report
from tests.faults.budget import FULL
from tests.faults.edge import fault_edge, load_targets
from tests.faults.load import ATTEMPT_DEADLINE_SECONDS, LoadGenerator
from tests.faults.record import OK
from tests.faults.scenario import Scenario

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.redis,
    pytest.mark.faults,
    pytest.mark.timeout(240),
    # About 40 s even shortened (two service processes and Envoy to start, the check to settle):
    # more than make test's share for the fault suite.
    pytest.mark.skipif(not FULL, reason="make test-faults runs it"),
]

FAULT_AFTER_SECONDS = 5.0
DOWN_SECONDS = 5.0
RESTARTS = 2
# After each restart the load runs on this long through the new edge.
SETTLE_SECONDS = 5.0
LOAD_SECONDS = FAULT_AFTER_SECONDS + RESTARTS * (DOWN_SECONDS + SETTLE_SECONDS) + 2.0
RECOVERY_LIMIT_SECONDS = 5.0
ALLOWED_DURING_FAULT = frozenset({"UNAVAILABLE", "ABORTED"})
PUBLIC_URL = "https://localhost:8443"


async def test_envoy_restarted_loses_nothing(fault_database_url: str, fault_redis_url: str, tmp_path: Path) -> None:
    scenario = Scenario(fault_database_url, fault_redis_url)
    async with (
        scenario.platform(tmp_path / "mesh", env={"TENANTMESH_PUBLIC_URL": PUBLIC_URL}, with_services=True) as platform,
        fault_edge(platform, tmp_path / "edge", PUBLIC_URL) as edge,
        load_targets(platform, edge) as through_edge,
    ):
        outages: list[tuple[float, float]] = []
        load = LoadGenerator(through_edge)
        async with scenario.loading(load, LOAD_SECONDS) as running:
            await asyncio.sleep(FAULT_AFTER_SECONDS)
            for _ in range(RESTARTS):
                stopped_at = time.monotonic()
                await edge.stop()
                await asyncio.sleep(DOWN_SECONDS)
                await edge.start()
                outages.append((stopped_at, time.monotonic()))
                await asyncio.sleep(SETTLE_SECONDS)
            await running
            verdict = await scenario.check(load, run=through_edge.run)

    fault_start, fault_end = outages[0][0], outages[-1][1]
    down = ", ".join(f"{end - start:.1f} s" for start, end in outages)
    row = report.add(
        "Envoy restarted",
        f"edge stopped (SIGTERM) and started again, {len(outages)}x, down {down} until ready",
        load,
        verdict,
        fault_start,
        fault_end,
    )
    # From the edge being ready again to the first call acknowledged through it.
    first_ok = min(
        (a.ended for _, a in load.record.attempts() if a.outcome == OK and a.started >= fault_end), default=None
    )
    reconnect = None if first_ok is None else first_ok - fault_end
    print(
        f"\n{report.table([row])}\n{report.failure_timeline(load, fault_start)}"
        f"\nrecovery after the last restart: last failure answered {row.recovery_seconds:.1f} s after the edge"
        f" was ready, first acknowledgement after {reconnect} s"
    )
    assert not verdict.problems(), verdict.problems()
    assert load.record.acknowledged_writes(), "no write was acknowledged: the verdict compared nothing"
    failed = load.record.failed_attempts()
    assert failed, "the restart cut nothing: the load did not go through the edge"
    wrong = {a.outcome for _, a in failed if a.code not in ALLOWED_DURING_FAULT}
    assert not wrong, f"failures other than UNAVAILABLE/ABORTED: {wrong}"
    slow = [a for _, a in load.record.attempts() if a.ended - a.started > ATTEMPT_DEADLINE_SECONDS]
    assert not slow, f"{len(slow)} calls ran into the deadline"
    assert reconnect is not None, "nothing was acknowledged after the restart"
    assert row.recovery_seconds <= RECOVERY_LIMIT_SECONDS
