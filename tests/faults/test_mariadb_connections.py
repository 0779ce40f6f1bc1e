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
from tests.faults.checker import check
from tests.faults.faults import kill_platform_connections, platform_connections
from tests.faults.load import ATTEMPT_DEADLINE_SECONDS, LoadGenerator
from tests.faults.observer import EventObserver
from tests.faults.platform import FaultPlatform, fault_platform, scenario_db_prefix

pytestmark = [pytest.mark.mysql, pytest.mark.redis, pytest.mark.faults, pytest.mark.timeout(240)]

LOAD_SECONDS = seconds(full=30.0, short=18.0)
FAULT_AFTER_SECONDS = 6.0
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
    prefix = scenario_db_prefix()
    observer = EventObserver(fault_redis_url)
    async with fault_platform(
        fault_database_url,
        fault_redis_url,
        tmp_path / "mesh",
        env={"TENANTMESH_TENANT_DB_PREFIX": prefix},
        with_services=True,
    ) as platform:
        await observer.start()
        try:
            load = LoadGenerator(platform.targets)
            running = asyncio.create_task(load.run(LOAD_SECONDS))
            await asyncio.sleep(FAULT_AFTER_SECONDS)
            fault_start = time.monotonic()
            killed = 0
            for _ in range(KILL_ROUNDS):
                killed += await kill_platform_connections(fault_database_url, prefix)
                await asyncio.sleep(KILL_EVERY_SECONDS)
            fault_end = time.monotonic()
            await running
            verdict = await check(
                load.record,
                database_url=fault_database_url,
                redis_url=fault_redis_url,
                observer=observer,
                run=platform.targets.run,
                tenant_db_prefix=prefix,
            )
            in_use = await _checked_out_once_idle(platform)
            capacity = sum([await platform.metric(s, "tenantmesh_db_pool_capacity") for s in platform.metrics_ports])
            held = len(await platform_connections(fault_database_url, prefix))
        finally:
            await observer.close()

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
