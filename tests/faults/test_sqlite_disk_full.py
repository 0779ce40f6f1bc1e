"""One tenant's SQLite file has no room to grow (embedded mode) while two tenants submit forms.

The disk is made full for that file alone with a test-only hook (services/runtime/db/sqlite.py:
the file may not grow past its current size, so SQLite answers SQLITE_FULL as on a full disk).
That tenant's writes must be refused RESOURCE_EXHAUSTED / STORAGE_FULL (never INTERNAL or
UNKNOWN) and leave nothing behind, its reads keep working, the other tenant is not affected at
all, and once space returns the tenant writes again without a restart. Every acknowledged
submission is in its tenant's database, and nothing else is.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from sqlalchemy import select
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.forms.models import SubmissionRow
from services.runtime.db.sqlite import FAULT_FULL_ENV, FULL_MARKER_SUFFIX
from services.runtime.json_documents import dict_to_struct
from tests.faults import report
from tests.faults.budget import seconds
from tests.faults.checker import Verdict
from tests.faults.record import OK, Attempt, LoadRecord, Operation, outcome_of
from tests.support.forms import FormsWorld, definition, forms_world, sample_definition

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

FAULT_AFTER_SECONDS = seconds(full=3.0, short=2.0)
# New rows first fill the free room left in the file's last pages, which takes a few writes: the
# fault is held this long from the first refusal (which comes within FIRST_REFUSAL_SECONDS).
FULL_SECONDS = seconds(full=12.0, short=2.0)
FIRST_REFUSAL_SECONDS = 20.0
AFTER_SECONDS = seconds(full=5.0, short=2.0)
# Per tenant: a submission, and a read of the tenant's submissions, every interval.
INTERVAL_SECONDS = 0.2
FORM_KEY = "intake"
REFUSED = "RESOURCE_EXHAUSTED/STORAGE_FULL"


class TenantLoad:
    """Submissions and reads in two tenants at a fixed pace, every attempt recorded."""

    def __init__(self, fw: FormsWorld) -> None:
        self.fw = fw
        self.record = LoadRecord()
        self.started_at = 0.0
        self.stopped_at = 0.0
        self._stopping = False

    @property
    def targeted_rate(self) -> float:
        return 2 * 2 / INTERVAL_SECONDS

    def stop(self) -> None:
        self._stopping = True

    async def first_refusal(self, within: float) -> None:
        """Until some write was refused, or ``within`` seconds passed."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if any(a.outcome != OK for op, a in self.record.attempts() if op.kind == "submission.create"):
                return
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        self.started_at = time.monotonic()
        await asyncio.gather(self._tenant("admin_a"), self._tenant("admin_b"))
        self.stopped_at = time.monotonic()

    async def _tenant(self, who: str) -> None:
        metadata = self.fw.as_(who)
        tenant = dict(metadata)["x-tenant-id"]
        number = 0
        while not self._stopping:
            number += 1
            answers = dict_to_struct({"name": f"{who}-{number}", "items": [{"qty": q} for q in range(1, 6)]})

            async def submit(answers: Struct = answers) -> str:
                request = pb.SubmitFormRequest(form_key=FORM_KEY, answers=answers, request_id=str(uuid.uuid4()))
                response = await self.fw.submissions.SubmitForm(request, metadata=metadata, timeout=10)
                return str(response.submission.submission_id)

            async def read() -> str:
                response = await self.fw.submissions.ListSubmissions(
                    pb.ListSubmissionsRequest(form_key=FORM_KEY, page_size=1), metadata=metadata, timeout=10
                )
                return str(len(response.submissions))

            await self._once(Operation("submission.create", tenant), submit)
            await self._once(Operation("read", tenant), read)
            await asyncio.sleep(INTERVAL_SECONDS)

    async def _once(self, operation: Operation, call: Callable[[], Awaitable[str]]) -> None:
        """One attempt: a refusal for lack of space is not retried (it says "not now", not "shortly")."""
        self.record.operations.append(operation)
        started = time.monotonic()
        try:
            acknowledged = await call()
        except grpc.aio.AioRpcError as error:
            operation.attempts.append(Attempt(started, time.monotonic(), outcome_of(error)))
            return
        operation.attempts.append(Attempt(started, time.monotonic(), OK))
        operation.acknowledged_ids.append(acknowledged)


async def _stored_ids(fw: FormsWorld, tenant_id: str) -> set[str]:
    async with fw.mesh.runtime.db.tenant_session(await fw.database_of(tenant_id)) as session:
        return {row.submission_id for row in (await session.execute(select(SubmissionRow))).scalars()}


def _check(record: LoadRecord, stored: dict[str, set[str]]) -> Verdict:
    """Every acknowledged submission stored in its tenant's file, and no other one (a refused
    write left nothing behind)."""
    verdict = Verdict()
    for tenant_id, ids in stored.items():
        acknowledged = {
            op.acknowledged_ids[0]
            for op in record.of_kind("submission.create")
            if op.key == tenant_id and op.acknowledged
        }
        verdict.acknowledged += len(acknowledged)
        verdict.lost.extend(f"submission {i} of {tenant_id}" for i in sorted(acknowledged - ids))
        verdict.duplicated.extend(f"unacknowledged submission {i} of {tenant_id}" for i in sorted(ids - acknowledged))
    return verdict


async def test_a_full_disk_stops_only_that_tenants_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_FULL_ENV, "1")
    async with forms_world(f"sqlite+aiosqlite:///{tmp_path / 'core.db'}", tmp_path) as fw:
        tenant_a, tenant_b = fw.world.tenant_a, fw.world.tenant_b
        for who in ("admin_a", "admin_b"):
            form = pb.Form(key=FORM_KEY, draft=definition(sample_definition()))
            await fw.forms.CreateForm(pb.CreateFormRequest(form=form), metadata=fw.as_(who))
            await fw.forms.PublishForm(pb.PublishFormRequest(key=FORM_KEY), metadata=fw.as_(who))
        marker = Path(f"{fw.mesh.runtime.db.sqlite_file(await fw.database_of(tenant_a))}{FULL_MARKER_SUFFIX}")
        load = TenantLoad(fw)
        running = asyncio.create_task(load.run())
        try:
            await asyncio.sleep(FAULT_AFTER_SECONDS)
            fault_start = time.monotonic()
            await asyncio.to_thread(marker.touch)
            await load.first_refusal(FIRST_REFUSAL_SECONDS)
            await asyncio.sleep(FULL_SECONDS)
            await asyncio.to_thread(marker.unlink)
            fault_end = time.monotonic()
            await asyncio.sleep(AFTER_SECONDS)
        finally:
            load.stop()
            await running
        stored = {tenant: await _stored_ids(fw, tenant) for tenant in (tenant_a, tenant_b)}
    verdict = _check(load.record, stored)

    def attempts(tenant: str, kind: str) -> list[Attempt]:
        return [a for op, a in load.record.attempts() if op.key == tenant and op.kind == kind]

    refused = [a for a in attempts(tenant_a, "submission.create") if a.outcome != OK]
    # From space returning to the first write of that tenant acknowledged again.
    back = min(a.ended for a in attempts(tenant_a, "submission.create") if a.outcome == OK and a.started >= fault_end)
    row = report.add(
        "tenant's SQLite file full (embedded)",
        f"tenant A's file could not grow for {fault_end - fault_start:.0f} s; tenant B alongside",
        load,
        verdict,
        fault_start,
        fault_end,
    )
    row = report.replace_recovery(row, back - fault_end)
    print(f"\n{report.table([row])}\n{report.failure_timeline(load, fault_start)}")
    assert not verdict.problems(), verdict.problems()
    assert refused, "tenant A wrote its submissions while its file could not grow"
    assert {a.outcome for a in refused} == {REFUSED}
    assert all(fault_start <= a.started <= fault_end for a in refused), "refused outside the fault"
    failed_elsewhere = [a.outcome for a in [*attempts(tenant_b, "submission.create"), *attempts(tenant_b, "read")]]
    assert set(failed_elsewhere) == {OK}, f"tenant B was affected: {set(failed_elsewhere)}"
    assert {a.outcome for a in attempts(tenant_a, "read")} == {OK}, "tenant A's reads failed"
