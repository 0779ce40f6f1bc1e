"""After the fault: the load's record against the databases and the event stream.

- every acknowledged write is in the database, as acknowledged (the same tenant id for every
  acknowledged attempt of one request id: a retry never made a second tenant);
- nothing the platform started is left half done: no tenant of the run in a working state
  once the reconciler had its time, no database of this platform without its tenant;
- every service enablement and form submission acknowledged is stored exactly once (one row
  per request id, under the submission id every acknowledgement named);
- every write that is in the database was announced, and each announcement reached the
  test's consumer group exactly once after deduplication; no consumer group of the services
  is left with undelivered or unacknowledged entries, nothing went to the dead-letter stream.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.runtime.events import Event, StreamSettings
from tests.faults.observer import EventObserver
from tests.faults.record import LoadRecord

# Tenant states a tenant may rest in; any other is work in progress.
RESTING_STATES = frozenset({"ACTIVE", "FAILED", "DELETED", "SUSPENDED"})


@dataclass
class Verdict:
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    orphan_databases: list[str] = field(default_factory=list)
    unannounced: list[str] = field(default_factory=list)
    delivered_twice: list[str] = field(default_factory=list)
    groups_behind: dict[str, dict[str, int]] = field(default_factory=dict)
    dead_letters: int = 0

    def problems(self) -> dict[str, object]:
        found = {name: value for name, value in vars(self).items() if name != "acknowledged" and value}
        return found


async def rows(database_url: str, statement: str, **params: object) -> list[Any]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(text(statement), params))
    finally:
        await engine.dispose()


async def _settled_tenants(database_url: str, slug_prefix: str, within: float) -> list[Any]:
    """The run's tenants once none is in a working state, or as they are after ``within``."""
    deadline = time.monotonic() + within
    while True:
        found = await rows(
            database_url,
            "SELECT tenant_id, former_slug, slug, state, create_request_id, db_name FROM tenants"
            " WHERE former_slug LIKE :prefix",
            prefix=f"{slug_prefix}%",
        )
        if all(row.state in RESTING_STATES for row in found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.25)


async def check(
    record: LoadRecord,
    *,
    database_url: str,
    redis_url: str,
    observer: EventObserver,
    run: str,
    tenant_db_prefix: str,
    settle_seconds: float = 20.0,
) -> Verdict:
    verdict = Verdict()
    slug_prefix = f"f{run}-"
    tenants = await _settled_tenants(database_url, slug_prefix, settle_seconds)
    _check_tenants(record, tenants, verdict)
    await _check_databases(database_url, tenants, tenant_db_prefix, verdict)
    users = await rows(
        database_url,
        "SELECT user_id, email FROM auth_users WHERE email LIKE :prefix",
        prefix=f"{slug_prefix}%",
    )
    _check_users(record, users, verdict)
    enabled = (
        await rows(
            database_url,
            "SELECT tenant_id, service, create_request_id FROM registry_enabled_services"
            " WHERE create_request_id IS NOT NULL",
        )
        if record.of_kind("service.enable")
        else []
    )
    _check_enablements(record, enabled, verdict)
    submissions = await _submissions(database_url, record)
    _check_submissions(record, submissions, verdict)
    expected = [
        Announcement(
            "tenant.created",
            lambda e: str(e.tenant_id),
            {t.tenant_id: t.former_slug for t in tenants if t.state == "ACTIVE"},
        ),
        Announcement(
            "user.created", lambda e: str(e.payload_dict().get("user_id")), {u.user_id: u.email for u in users}
        ),
        Announcement(
            "tenant_service.enabled",
            lambda e: f"{e.tenant_id}/{e.payload_dict().get('service')}",
            {f"{row.tenant_id}/{row.service}": f"{row.tenant_id}/{row.service}" for row in enabled},
        ),
        Announcement(
            "form.submission.created",
            lambda e: str(e.payload_dict().get("submission_id")),
            {row.submission_id: row.submission_id for row in submissions},
        ),
    ]
    await _check_events(expected, observer, settle_seconds, verdict)
    await _check_groups(redis_url, verdict)
    return verdict


def _check_tenants(record: LoadRecord, rows: list[Any], verdict: Verdict) -> None:
    by_slug = {row.former_slug: row for row in rows}
    per_request = Counter(row.create_request_id for row in rows)
    for op in record.of_kind("tenant.create"):
        row = by_slug.get(op.key)
        if per_request[op.request_id] > 1:
            verdict.duplicated.append(f"tenant {op.key}: {per_request[op.request_id]} rows for one request id")
        if not op.acknowledged:
            continue
        verdict.acknowledged += 1
        if row is None or row.state != "ACTIVE":
            verdict.lost.append(f"tenant {op.key} acknowledged, found {row.state if row else 'nothing'}")
        elif set(op.acknowledged_ids) != {row.tenant_id}:
            verdict.duplicated.append(f"tenant {op.key}: acknowledged as {sorted(set(op.acknowledged_ids))}")
    verdict.stuck.extend(f"tenant {row.former_slug} {row.state}" for row in rows if row.state not in RESTING_STATES)


async def _check_databases(database_url: str, tenants: list[Any], prefix: str, verdict: Verdict) -> None:
    schemas = {
        row.SCHEMA_NAME
        for row in await rows(
            database_url,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :prefix",
            prefix=prefix.replace("_", "\\_") + "%",
        )
    }
    owned = {row.db_name for row in tenants if row.state in ("ACTIVE", "SUSPENDED")}
    # The platform tenant and the scenario's own tenants (slugs fl-…) were made outside the record.
    outside = (f"{prefix}platform", f"{prefix}fl_")
    verdict.orphan_databases.extend(sorted(name for name in schemas - owned if not name.startswith(outside)))
    verdict.lost.extend(
        f"database of {row.former_slug}" for row in tenants if row.state == "ACTIVE" and row.db_name not in schemas
    )


def _check_users(record: LoadRecord, rows: list[Any], verdict: Verdict) -> None:
    per_email = Counter(row.email for row in rows)
    ids = {row.email: row.user_id for row in rows}
    for op in record.of_kind("user.create"):
        if per_email[op.key] > 1:
            verdict.duplicated.append(f"user {op.key}: {per_email[op.key]} rows")
        if not op.acknowledged:
            continue
        verdict.acknowledged += 1
        if op.key not in ids:
            verdict.lost.append(f"user {op.key} acknowledged, not found")
        elif set(op.acknowledged_ids) - {"", ids[op.key]}:
            verdict.duplicated.append(f"user {op.key}: acknowledged as {sorted(set(op.acknowledged_ids))}")


def _check_enablements(record: LoadRecord, rows: list[Any], verdict: Verdict) -> None:
    per_request = Counter(row.create_request_id for row in rows)
    stored = {row.create_request_id: row for row in rows}
    for op in record.of_kind("service.enable"):
        if per_request[op.request_id] > 1:
            verdict.duplicated.append(f"enablement for {op.key}: {per_request[op.request_id]} rows")
        if not op.acknowledged:
            continue
        verdict.acknowledged += 1
        row = stored.get(op.request_id)
        if row is None or row.tenant_id != op.key or {row.service} != set(op.acknowledged_ids):
            verdict.lost.append(f"enablement for {op.key} acknowledged, found {row and (row.tenant_id, row.service)}")


async def _submissions(database_url: str, record: LoadRecord) -> list[Any]:
    """The submissions stored in the databases of the tenants the load submitted to."""
    found: list[Any] = []
    for tenant_id in sorted({op.key for op in record.of_kind("form.submit")}):
        (tenant,) = await rows(database_url, "SELECT db_name FROM tenants WHERE tenant_id = :id", id=tenant_id)
        found.extend(
            await rows(
                database_url,
                f"SELECT submission_id, request_id FROM `{tenant.db_name}`.submissions WHERE request_id IS NOT NULL",
            )
        )
    return found


def _check_submissions(record: LoadRecord, rows: list[Any], verdict: Verdict) -> None:
    per_request = Counter(row.request_id for row in rows)
    stored = {row.request_id: row.submission_id for row in rows}
    for op in record.of_kind("form.submit"):
        if per_request[op.request_id] > 1:
            verdict.duplicated.append(f"submission {op.request_id}: {per_request[op.request_id]} rows")
        if not op.acknowledged:
            continue
        verdict.acknowledged += 1
        if op.request_id not in stored:
            verdict.lost.append(f"submission {op.request_id} acknowledged, not found")
        elif set(op.acknowledged_ids) != {stored[op.request_id]}:
            verdict.duplicated.append(f"submission {op.request_id}: acknowledged as {sorted(set(op.acknowledged_ids))}")


@dataclass(frozen=True)
class Announcement:
    """What must have been announced: an event of ``event_type`` for each of ``expected``'s keys
    (``key`` of an event), ``expected`` naming each for the verdict."""

    event_type: str
    key: Callable[[Event], str]
    expected: dict[str, str]

    def missing(self, observer: EventObserver) -> list[str]:
        seen = {self.key(e) for e in observer.of_type(self.event_type)}
        return [f"{self.event_type} {name}" for key, name in self.expected.items() if key not in seen]


async def _check_events(expected: list[Announcement], observer: EventObserver, within: float, verdict: Verdict) -> None:
    await observer.wait_until(lambda: not any(a.missing(observer) for a in expected), within)
    for announcement in expected:
        verdict.unannounced.extend(sorted(announcement.missing(observer)))
    verdict.delivered_twice.extend(f"{observer.events[i].type} {i} x{n}" for i, n in observer.handled.items() if n > 1)


async def _check_groups(redis_url: str, verdict: Verdict, within: float = 15.0) -> None:
    """Every service's consumer group caught up: nothing unread, nothing unacknowledged."""
    settings = StreamSettings()
    client: Any = redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + within
        while True:
            behind = {}
            for group in await client.xinfo_groups(settings.stream):
                lag, pending = group.get("lag") or 0, group.get("pending") or 0
                if lag or pending:
                    behind[group["name"].decode()] = {"lag": int(lag), "pending": int(pending)}
            if not behind or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        verdict.groups_behind = behind
        verdict.dead_letters = int(await client.xlen(settings.dead_letter_stream))
    finally:
        await client.aclose()
