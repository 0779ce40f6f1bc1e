"""A tenants process SIGKILLed in the middle of migrate-all, while load runs; a re-run finishes.

The platform starts as an older release: tenants are provisioned in the tenants service alone
and the load creates tenants that way. Then the forms service joins (a new tenant-scoped
participant, the rollout ``make migrate-tenants`` exists for): a tenants process configured
with it runs ``MigrateTenantDatabases`` and kills itself (TENANTMESH_FAULT_KILL_AT, test-only:
services/runtime/fault_points.py) once some tenants are migrated, right after forms brought one
more tenant to head and before that version is recorded, with other tenants still in flight.
A second run from a fresh process must finish every tenant: each one's forms schema at head in
its database, the recorded version the same, nothing lost, nothing stuck.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from tenantmesh.tenants.v1 import tenant_service_pb2, tenant_service_pb2_grpc

from services.forms.app import FormsApp
from tests.faults import report
from tests.faults.budget import FULL
from tests.faults.checker import rows
from tests.faults.load import LoadGenerator, Rates, bearer
from tests.faults.platform import FaultPlatform
from tests.faults.scenario import Scenario
from tests.support.migrations import head_of
from tests.support.processes import ServiceProcess

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.redis,
    pytest.mark.faults,
    pytest.mark.timeout(300),
    # About 45 s even shortened (four service processes to start, the re-run, the check): more
    # than make test's share for one scenario.
    pytest.mark.skipif(not FULL, reason="make test-faults runs it"),
]

# Tenants made by the load before the rollout: enough that the crash finds some migrated, one
# migrated but unrecorded, some in flight and some not started.
WARM_UP_SECONDS = 12.0
RATES = Rates(tenant_creates=1.0)
# Dies on the third tenant forms migrated (two recorded before it, at concurrency 2).
CRASH_POINT = "migrate:forms@3"
CONCURRENCY = 2
AFTER_CRASH_SECONDS = 2.0
PARTICIPANTS = {"TENANTMESH_LIFECYCLE_SERVICES": "tenants,forms"}


async def _migrate(process: ServiceProcess, token: str) -> tuple[list[Any], grpc.aio.AioRpcError | None]:
    """Every progress message of one migrate-all run on ``process``, and how it ended."""
    stub: Any = tenant_service_pb2_grpc.TenantServiceStub(process.channel)
    messages: list[Any] = []
    request = tenant_service_pb2.MigrateTenantDatabasesRequest(concurrency=CONCURRENCY)
    try:
        async for message in stub.MigrateTenantDatabases(request, metadata=bearer(token), timeout=120):
            messages.append(message)
    except grpc.aio.AioRpcError as error:
        return messages, error
    return messages, None


async def _schema_state(database_url: str, prefix: str) -> dict[str, tuple[str, str, str]]:
    """Per migratable tenant of the scenario: its recorded forms version, the version its
    database's forms version table holds, and the forms step's state."""
    tenants = await rows(
        database_url,
        "SELECT t.tenant_id, t.db_name, s.state, s.schema_version FROM tenants t"
        " LEFT JOIN tenant_provisioning_steps s ON s.tenant_id = t.tenant_id AND s.step = 'forms'"
        " WHERE t.state IN ('ACTIVE', 'SUSPENDED') AND t.db_name LIKE :prefix",
        prefix=prefix.replace("_", "\\_") + "%",
    )
    found = {}
    for tenant in tenants:
        applied = await rows(
            database_url,
            "SELECT TABLE_NAME FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = :db AND TABLE_NAME = 'alembic_version_forms'",
            db=tenant.db_name,
        )
        version = ""
        if applied:
            # Empty while (or if) a migration is half way: Alembic made the table, no revision yet.
            statement = f"SELECT version_num FROM `{tenant.db_name}`.alembic_version_forms"
            version = ",".join(row.version_num for row in await rows(database_url, statement)) or "(none)"
        found[tenant.tenant_id] = (tenant.schema_version or "", version, tenant.state or "")
    return found


async def test_a_process_killed_during_migrate_all_leaves_no_tenant_half_upgraded(
    fault_database_url: str, fault_redis_url: str, tmp_path: Path
) -> None:
    head = head_of(FormsApp.tenant_migrations)
    scenario = Scenario(fault_database_url, fault_redis_url)
    async with (
        scenario.platform(tmp_path / "mesh", services=("tenants", "auth", "forms")) as platform,
    ):
        await platform.start("forms")
        load = LoadGenerator(platform.targets, RATES)
        async with scenario.loading(load, 600.0) as running:
            await asyncio.sleep(WARM_UP_SECONDS)
            crashed, error, killed_at = await _crash_migrating(platform)
            after_crash = await _schema_state(fault_database_url, scenario.prefix)
            await asyncio.sleep(AFTER_CRASH_SECONDS)
            load.stop()
            await running
            rerun = await platform.start("tenants", instance="tenants-rerun", env=PARTICIPANTS)
            messages, rerun_error = await _migrate(rerun, platform.targets.admin_token)
            recovered = time.monotonic() - killed_at
            final = await _schema_state(fault_database_url, scenario.prefix)
            verdict = await scenario.check(load, run=platform.targets.run)

    row = report.add(
        "tenants process SIGKILLed during migrate-all",
        f"SIGKILL at {CRASH_POINT} ({len(crashed)} of {len(after_crash)} tenants reported migrated)",
        load,
        verdict,
        killed_at,
        killed_at,
    )
    row = report.replace_recovery(row, recovered)
    half = {t: state for t, state in after_crash.items() if state[1] == head and state[0] != head}
    print(
        f"\n{report.table([row])}\nafter the crash: {len(crashed)} reported, {len(half)} at head but not recorded,"
        f" {sum(1 for s in after_crash.values() if s[1] == '')} without the forms schema;"
        f" re-run: {len(messages)} tenants in {recovered:.1f} s from the kill"
    )
    assert error is not None, "the migrating process answered to the end"
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error
    assert rerun_error is None, rerun_error
    assert not verdict.problems(), verdict.problems()
    assert load.record.acknowledged_writes(), "no write was acknowledged: the verdict compared nothing"
    assert 0 < len(crashed) < len(after_crash), "the crash did not come in the middle of the run"
    assert half, "no tenant was migrated but unrecorded when the process died"
    assert all(m.ok for m in messages), [m for m in messages if not m.ok]
    assert {m.tenant_id for m in messages} == set(final)
    wrong = {t: state for t, state in final.items() if state != (head, head, "DONE")}
    assert not wrong, f"tenants not at {head} (recorded, applied, step): {wrong}"


async def _crash_migrating(platform: FaultPlatform) -> tuple[list[Any], grpc.aio.AioRpcError | None, float]:
    """Starts the migrating process (with the forms participant) and runs migrate-all on it
    until it kills itself; returns what it reported, how the stream ended and when it died."""
    migrating = await platform.start(
        "tenants", instance="tenants-migrate", env={**PARTICIPANTS, "TENANTMESH_FAULT_KILL_AT": CRASH_POINT}
    )
    messages, error = await _migrate(migrating, platform.targets.admin_token)
    assert await asyncio.to_thread(migrating.process.wait, 10) == -signal.SIGKILL
    return messages, error, time.monotonic()
