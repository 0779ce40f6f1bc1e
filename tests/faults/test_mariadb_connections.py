"""MariaDB drops every connection of the platform, repeatedly, while load runs.

The services must answer calls during the fault UNAVAILABLE or ABORTED (retryable, never
INTERNAL or UNKNOWN, never a hang past the caller's deadline), lose no acknowledged write,
recover without a restart within 5 s and keep their pools within bounds (no leaked
connection checked out once the load is over).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults import report
from tests.faults.budget import seconds
from tests.faults.faults import kill_platform_connections, platform_connections
from tests.faults.load import ATTEMPT_DEADLINE_SECONDS, LoadGenerator
from tests.faults.platform import FaultPlatform
from tests.faults.scenario import Scenario

pytestmark = [pytest.mark.mysql, pytest.mark.redis, pytest.mark.faults, pytest.mark.timeout(240)]

# Shortened: a warm-up long enough for every kind of write to be under way, and after the
# kills still more than the recovery limit plus a margin of load to measure the recovery with.
FAULT_AFTER_SECONDS = seconds(full=6.0, short=4.0)
LOAD_SECONDS = seconds(full=30.0, short=15.0)
KILL_ROUNDS = 6
KILL_EVERY_SECONDS = 0.5
RECOVERY_LIMIT_SECONDS = 5.0
ALLOWED_DURING_FAULT = frozenset({"UNAVAILABLE", "ABORTED"})


async def _checked_out_once_idle(platform: FaultPlatform, within: float = 25.0) -> dict[str, float]:
    """Connections checked out of each process's pools once the load is over.

    The gauge is sampled every 10 s and the processes' background loops (outbox relay, mail
    delivery) check a connection out now and then, so one reading may show 1; a leaked
    connection is never returned, so the reading never drops to 0 within a few samples."""
    deadline = time.monotonic() + within
    while True:
        in_use = {s: await platform.metric(s, "tenantmesh_db_pool_connections_in_use") for s in platform.metrics_ports}
        if not any(in_use.values()) or time.monotonic() > deadline:
            return in_use
        await asyncio.sleep(1.0)


async def test_killed_database_connections_lose_nothing(
    fault_database_url: str, fault_redis_url: str, tmp_path: Path
) -> None:
    scenario = Scenario(fault_database_url, fault_redis_url)
    async with (
        scenario.platform(tmp_path / "mesh", with_services=True) as platform,
    ):
        load = LoadGenerator(platform.targets)
        async with scenario.loading(load, LOAD_SECONDS) as running:
            await asyncio.sleep(FAULT_AFTER_SECONDS)
            fault_start = time.monotonic()
            killed = 0
            for _ in range(KILL_ROUNDS):
                killed += await kill_platform_connections(fault_database_url, scenario.prefix)
                await asyncio.sleep(KILL_EVERY_SECONDS)
            fault_end = time.monotonic()
            await running
            verdict = await scenario.check(load, run=platform.targets.run)
            in_use = await _checked_out_once_idle(platform)
            capacity = sum([await platform.metric(s, "tenantmesh_db_pool_capacity") for s in platform.metrics_ports])
            held = len(await platform_connections(fault_database_url, scenario.prefix))

    row = report.add(
        "MariaDB connections killed",
        f"KILL of all {killed} platform connections, {KILL_ROUNDS} rounds over {fault_end - fault_start:.1f} s",
        load,
        verdict,
        fault_start,
        fault_end,
    )
    print(f"\n{report.table([row])}\n{report.failure_timeline(load, fault_start)}")
    assert killed > 0, "the fault hit nothing: the platform held no connection"
    assert not verdict.problems(), verdict.problems()
    covered = load.record.acknowledged_kinds()
    assert {"service.enable", "form.submit"} <= covered, f"no enablement or no submission acknowledged: {covered}"
    wrong = {a.outcome for _, a in load.record.failed_attempts() if a.code not in ALLOWED_DURING_FAULT}
    assert not wrong, f"failures other than UNAVAILABLE/ABORTED: {wrong}"
    slow = [a for _, a in load.record.attempts() if a.ended - a.started > ATTEMPT_DEADLINE_SECONDS]
    assert not slow, f"{len(slow)} calls ran into the deadline"
    assert row.recovery_seconds <= RECOVERY_LIMIT_SECONDS
    assert all(n == 0 for n in in_use.values()), f"connections still checked out after the load: {in_use}"
    assert held <= capacity, f"{held} server connections for pools of {capacity} at most"
