"""Benchmark: provisioning and migrating N tenant databases on MariaDB/MySQL.

    python -m tests.bench.bench_tenants [--tenants 1000] [--concurrency 8]
        [--raw-tenants 200] [--migrate-concurrency 8]
        [--mysql-url mysql+asyncmy://root@127.0.0.1:3306/tm_bench]

1. Starts the tenants service in this process on a fresh core database
   (``<db>_<run id>``) and provisions N tenants through the gRPC API
   (CreateTenant from ``--concurrency`` concurrent clients, one channel each),
   sampling the server's ``Threads_connected`` every ~50 ms on a separate connection.
2. Raw baseline: the same DDL/DML per tenant over one asyncmy connection, without
   the service, for ``--raw-tenants`` tenants; rate extrapolated.
3. Restarts the service on the same core database with a copy of the tenant
   migrations plus one revision (a column on ``tenant_identity``) and migrates every
   tenant database through the MigrateTenantDatabases streaming RPC.

Every database the run creates (core, raw core, ``tenant_b<run>_*``, ``tenant_r<run>_*``)
is dropped at the end, also on Ctrl-C or failure. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from alembic.script import ScriptDirectory
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_service_pb2 as pb

from services.runtime.cpus import usable_cpus
from services.runtime.db import DatabaseRouter, MigrationSet, upgrade_core
from services.runtime.loop import run as run_on_service_loop
from services.tenants.app import CORE_MIGRATIONS, TENANT_MIGRATIONS
from tests.bench.common import (
    bench_settings,
    load_note,
    percentile,
    print_table,
    quiet_driver_notes,
    tenants_service,
    verdict,
)
from tests.bench.mariadb import ConnectionPeaks, ConnectionSampler, Server, drop_databases, fetch_all, like_prefix

DEFAULT_URL = "mysql+asyncmy://root@127.0.0.1:3306/tm_bench"
TARGET_RATIO = 0.5
TARGET_EXTRA_CONNECTIONS = 5
TARGET_PROVISION_1000_S = 300.0
TARGET_MIGRATE_1000_S = 120.0
BENCH_COLUMN = "bench_note"
BENCH_REVISION = "tenants_tenant_bench_9001"


@dataclass
class RunNames:
    """Every database name this run may create; all start with a run-unique prefix."""

    run_id: str
    base: str

    @property
    def core_db(self) -> str:
        return f"{self.base}_{self.run_id}"

    @property
    def raw_core_db(self) -> str:
        return f"{self.base}_{self.run_id}_raw"

    def service_slug(self, i: int) -> str:
        return f"b{self.run_id}-{i:05d}"

    def raw_slug(self, i: int) -> str:
        return f"r{self.run_id}-{i:05d}"

    @property
    def service_db_prefix(self) -> str:
        return f"tenant_b{self.run_id}_"

    @property
    def raw_db_prefix(self) -> str:
        return f"tenant_r{self.run_id}_"


@dataclass
class ProvisionResult:
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    peaks: ConnectionPeaks = field(default_factory=ConnectionPeaks)
    pool_capacity: int = 0
    pool_size: int = 0
    max_overflow: int = 0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


@dataclass
class MigrateResult:
    ok: int = 0
    failed: int = 0
    total: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    verified_sample: int = 0
    sample_with_column: int = 0
    all_with_column: int = 0
    error: str = ""
    peaks: ConnectionPeaks = field(default_factory=ConnectionPeaks)


@dataclass
class RawResult:
    tenants: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.tenants / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- service run


async def provision_through_service(
    server: Server, names: RunNames, n: int, concurrency: int, data_dir: Path
) -> ProvisionResult:
    result = ProvisionResult()
    settings = bench_settings(server.url(names.core_db), data_dir)
    result.pool_size = settings.database.pool_size
    result.max_overflow = settings.database.max_overflow
    sampler = ConnectionSampler(server, names.core_db, [names.service_db_prefix])
    with sampler:
        async with tenants_service(settings) as service:
            result.pool_capacity = service.runtime.db.pool_capacity()
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(n):
                queue.put_nowait(i)
            done = 0
            started = time.perf_counter()

            async def client() -> None:
                nonlocal done
                async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
                    stub: Any = tenant_service_pb2_grpc.TenantServiceStub(channel)
                    while True:
                        try:
                            i = queue.get_nowait()
                        except asyncio.QueueEmpty:
                            return
                        request = pb.CreateTenantRequest(
                            tenant=tenant_pb2.Tenant(slug=names.service_slug(i), display_name=f"Bench {i}"),
                            request_id=str(uuid.uuid4()),
                        )
                        t0 = time.perf_counter()
                        try:
                            await stub.CreateTenant(request, timeout=120)
                        except grpc.aio.AioRpcError as exc:
                            result.failed += 1
                            key = f"{exc.code().name}: {exc.details()}"[:120]
                            result.errors[key] = result.errors.get(key, 0) + 1
                        else:
                            result.ok += 1
                            result.latencies.append(time.perf_counter() - t0)
                        done += 1
                        if done % 100 == 0:
                            elapsed = time.perf_counter() - started
                            print(
                                f"    {done}/{n} tenants, {elapsed:.1f} s, {done / elapsed:.1f}/s",
                                file=sys.stderr,
                                flush=True,
                            )

            await asyncio.gather(*(client() for _ in range(concurrency)))
            result.seconds = time.perf_counter() - started
    result.peaks = sampler.peaks
    return result


async def _consume_migration(stub: Any, concurrency: int, result: MigrateResult, started: float) -> None:
    stream = stub.MigrateTenantDatabases(pb.MigrateTenantDatabasesRequest(concurrency=concurrency), timeout=3600)
    async for message in stream:
        result.total = message.total
        if message.ok:
            result.ok += 1
        else:
            result.failed += 1
            for item in message.services:
                if item.error_reason:
                    result.reasons[item.error_reason] = result.reasons.get(item.error_reason, 0) + 1
        if message.completed % 100 == 0:
            elapsed = time.perf_counter() - started
            print(f"    migrated {message.completed}/{message.total}, {elapsed:.1f} s", file=sys.stderr, flush=True)


def extended_migrations(workdir: Path) -> MigrationSet:
    """A copy of the tenant migrations with one more revision adding a column to tenant_identity."""
    target = workdir / "tenant-migrations"
    shutil.copytree(TENANT_MIGRATIONS.directory, target, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(TENANT_MIGRATIONS.directory)).get_current_head()
    (target / "versions" / "9001_bench_column.py").write_text(
        f'''"""Benchmark revision: one nullable column on tenant_identity.

Revision ID: {BENCH_REVISION}
"""

import sqlalchemy as sa
from alembic import op

revision = "{BENCH_REVISION}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenant_identity", sa.Column("{BENCH_COLUMN}", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("tenant_identity", "{BENCH_COLUMN}")
''',
        encoding="utf-8",
    )
    return MigrationSet(service="tenants", scope="tenant", directory=target)


async def migrate_through_service(
    server: Server, names: RunNames, concurrency: int, data_dir: Path, sample_size: int = 20
) -> MigrateResult:
    result = MigrateResult()
    migrations = extended_migrations(data_dir)
    settings = bench_settings(server.url(names.core_db), data_dir)
    sampler = ConnectionSampler(server, names.core_db, [names.service_db_prefix])
    with sampler:
        async with tenants_service(settings, tenant_migrations=migrations) as service:
            started = time.perf_counter()
            try:
                await _consume_migration(service.stub, concurrency, result, started)
            except grpc.aio.AioRpcError as exc:
                result.error = f"{exc.code().name}: {exc.details()}"
            result.seconds = time.perf_counter() - started
    result.peaks = sampler.peaks
    if result.error:
        return result

    # Verification: a random sample, one by one, then a count over every tenant database.
    dbs = [
        row[0]
        for row in await fetch_all(
            server,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
            (like_prefix(names.service_db_prefix),),
        )
    ]
    sample = random.sample(dbs, min(sample_size, len(dbs)))
    result.verified_sample = len(sample)
    for db in sample:
        rows = await fetch_all(
            server,
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = 'tenant_identity' AND COLUMN_NAME = %s",
            (db, BENCH_COLUMN),
        )
        version = await fetch_all(server, f"SELECT version_num FROM `{db}`.alembic_version_tenants")
        if rows[0][0] == 1 and version == [(BENCH_REVISION,)]:
            result.sample_with_column += 1
    rows = await fetch_all(
        server,
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA LIKE %s "
        "AND TABLE_NAME = 'tenant_identity' AND COLUMN_NAME = %s",
        (like_prefix(names.service_db_prefix), BENCH_COLUMN),
    )
    result.all_with_column = int(rows[0][0])
    return result


# --------------------------------------------------------------------------- raw baseline


def _q(name: str) -> str:
    return f"`{name}`"


async def raw_baseline(server: Server, names: RunNames, n: int, data_dir: Path) -> RawResult:
    """What one provisioning writes, over ONE asyncmy connection, without the service.

    Per tenant, in the same transactions the service uses:
      core:   INSERT tenants + INSERT 2 tenant_provisioning_steps (database, tenants); COMMIT
      DDL:    CREATE DATABASE tenant_<slug>
      tenant: CREATE TABLE alembic_version_tenants, CREATE TABLE tenant_identity,
              INSERT version row, INSERT tenant_identity row; COMMIT
      core:   UPDATE both steps DONE (+schema_version) + UPDATE tenants SET state='ACTIVE' ...; COMMIT
    The service additionally reads (its check of the tenant's schema version), switches a
    pooled connection into the tenant database and back (USE), talks gRPC to its own
    lifecycle service and returns the tenant.
    """
    # Core tables exactly as the service's migrations create them, in a separate core db.
    router = DatabaseRouter(server.url(names.raw_core_db), pool_size=1, max_overflow=0)
    await router.start()
    try:
        await upgrade_core(router, CORE_MIGRATIONS)
    finally:
        await router.dispose()
    head = ScriptDirectory(str(TENANT_MIGRATIONS.directory)).get_current_head()
    core = _q(names.raw_core_db)
    conn = await server.connect(autocommit=False, charset="utf8mb4")
    started = time.perf_counter()
    try:
        async with conn.cursor() as cur:
            for i in range(n):
                slug = names.raw_slug(i)
                db = _q("tenant_" + slug.replace("-", "_"))
                tenant_id = str(uuid.uuid4())
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
                lease = now + dt.timedelta(seconds=60)
                await cur.execute(
                    f"INSERT INTO {core}.tenants (tenant_id, slug, former_slug, display_name, state, plan, "
                    "settings_json, db_server, db_name, failure_reason, revision, create_request_id, "
                    "lease_until, create_time, update_time, delete_time) "
                    "VALUES (%s, %s, %s, %s, 'PROVISIONING', '', '{}', 'default', %s, '', 1, %s, %s, %s, %s, NULL)",
                    (tenant_id, slug, slug, f"Raw {i}", db.strip("`"), str(uuid.uuid4()), lease, now, now),
                )
                await cur.execute(
                    f"INSERT INTO {core}.tenant_provisioning_steps "
                    "(tenant_id, step, position, state, schema_version, update_time) "
                    "VALUES (%s, 'database', 0, 'PENDING', '', %s), (%s, 'tenants', 1, 'PENDING', '', %s)",
                    (tenant_id, now, tenant_id, now),
                )
                await conn.commit()
                await cur.execute(
                    f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
                await cur.execute(
                    f"CREATE TABLE {db}.alembic_version_tenants (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_tenants_pkc PRIMARY KEY (version_num))"
                )
                await cur.execute(
                    f"CREATE TABLE {db}.tenant_identity (tenant_id VARCHAR(36) NOT NULL, "
                    "provision_time DATETIME NOT NULL, PRIMARY KEY (tenant_id)) DEFAULT CHARSET=utf8mb4"
                )
                await cur.execute(f"INSERT INTO {db}.alembic_version_tenants (version_num) VALUES (%s)", (head,))
                await cur.execute(
                    f"INSERT INTO {db}.tenant_identity (tenant_id, provision_time) VALUES (%s, %s)", (tenant_id, now)
                )
                await conn.commit()
                await cur.execute(
                    f"UPDATE {core}.tenant_provisioning_steps SET state = 'DONE', update_time = %s, "
                    "schema_version = CASE WHEN step = 'tenants' THEN %s ELSE schema_version END "
                    "WHERE tenant_id = %s AND step IN ('database', 'tenants')",
                    (now, head, tenant_id),
                )
                await cur.execute(
                    f"UPDATE {core}.tenants SET state = 'ACTIVE', lease_until = NULL, update_time = %s, "
                    "revision = revision + 1 WHERE tenant_id = %s AND state = 'PROVISIONING'",
                    (now, tenant_id),
                )
                await conn.commit()
    finally:
        seconds = time.perf_counter() - started
        conn.close()
    return RawResult(tenants=n, seconds=seconds)


# --------------------------------------------------------------------------- report


def report(
    args: argparse.Namespace,
    names: RunNames,
    server_version: str,
    prov: ProvisionResult,
    raw: RawResult,
    mig: MigrateResult | None,
) -> None:
    n = args.tenants
    print()
    print(f"== bench_tenants  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}  run {names.run_id}")
    print(
        f"   {platform.node()}  {platform.machine()}  {usable_cpus()} vCPU  "
        f"Python {platform.python_version()}  {load_note()}"
    )
    print(f"   server {args.mysql_url.split('@')[-1]} ({server_version})  core db {names.core_db}")
    print()
    print(f"-- Provisioning through the service (gRPC CreateTenant, {args.concurrency} concurrent clients)")
    lat = prov.latencies
    peaks = prov.peaks
    print_table(
        [
            ("tenants", f"{prov.ok} ok, {prov.failed} failed"),
            ("total time", f"{prov.seconds:.1f} s"),
            ("rate", f"{prov.rate:.2f} tenants/s"),
            (
                "CreateTenant latency",
                f"p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms, "
                f"max {max(lat, default=0) * 1000:.0f} ms",
            ),
            (
                "peak Threads_connected",
                f"{peaks.peak_threads} (pre-run baseline {peaks.baseline_threads}, incl. the sampler's own "
                f"connection; delta +{peaks.delta})",
            ),
            ("peak service connections", f"{peaks.peak_owned} (PROCESSLIST rows on the core db or this run's DBs)"),
            (
                "service pool maximum",
                f"{prov.pool_capacity} (runtime.db.pool_capacity(): pool_size {prov.pool_size} "
                f"+ max_overflow {prov.max_overflow})",
            ),
            ("samples", f"{peaks.samples} (median interval {peaks.median_interval_ms:.0f} ms){_error(peaks)}"),
        ]
    )
    for error, count in sorted(prov.errors.items(), key=lambda kv: -kv[1])[:5]:
        print(f"    error x{count}: {error}")
    print()
    print("-- Raw baseline (same DDL/DML per tenant, one asyncmy connection, no service)")
    print_table(
        [
            ("tenants", f"{raw.tenants}"),
            ("total time", f"{raw.seconds:.1f} s"),
            ("rate", f"{raw.rate:.2f} tenants/s  (extrapolated to {n}: {n / raw.rate if raw.rate else 0:.1f} s)"),
        ]
    )
    if mig is not None:
        print()
        print(
            f"-- Migrating every tenant database (+1 revision: tenant_identity.{BENCH_COLUMN}; "
            f"MigrateTenantDatabases, concurrency {args.migrate_concurrency})"
        )
        print_table(
            [
                ("tenants", f"{mig.total} in run: {mig.ok} ok, {mig.failed} failed"),
                ("total time", f"{mig.seconds:.1f} s ({mig.ok / mig.seconds if mig.seconds else 0:.1f} tenants/s)"),
                ("column present", f"{mig.sample_with_column}/{mig.verified_sample} sampled (column + version row)"),
                ("column present (all)", f"{mig.all_with_column} tenant databases"),
                (
                    "peak Threads_connected",
                    f"{mig.peaks.peak_threads} (baseline {mig.peaks.baseline_threads}, delta +{mig.peaks.delta}); "
                    f"service connections {mig.peaks.peak_owned}",
                ),
            ]
        )
        if mig.error:
            print(f"    MigrateTenantDatabases failed: {mig.error}")
        for reason, count in sorted(mig.reasons.items(), key=lambda kv: -kv[1])[:5]:
            print(f"    failure x{count}: {reason}")
    print()
    print("-- Targets")
    ratio = prov.rate / raw.rate if raw.rate else 0.0
    limit = prov.pool_capacity + TARGET_EXTRA_CONNECTIONS
    per_1000 = 1000 / prov.rate if prov.rate else float("inf")
    rows = [
        (
            "service/raw rate >= 0.5x",
            f"{ratio:.2f}x ({prov.rate:.2f} / {raw.rate:.2f} tenants/s)  {verdict(ratio >= TARGET_RATIO)}",
        ),
        (
            f"peak connections <= pool max + 5 ({limit})",
            f"delta +{peaks.delta}, service {peaks.peak_owned}  "
            f"{verdict(peaks.delta <= limit and peaks.peak_owned <= limit)}",
        ),
        (
            "1,000 tenants in <= 5 min",
            f"{per_1000:.0f} s{' (extrapolated)' if n != 1000 else ''}  "
            f"{verdict(per_1000 <= TARGET_PROVISION_1000_S and prov.failed == 0)}",
        ),
    ]
    if mig is not None:
        mig_1000 = mig.seconds * 1000 / mig.ok if mig.ok else float("inf")
        rows.append(
            (
                "migrate 1,000 in <= 2 min",
                f"{mig_1000:.0f} s{' (extrapolated)' if mig.ok != 1000 else ''}  "
                f"{verdict(mig_1000 <= TARGET_MIGRATE_1000_S and mig.failed == 0)}",
            )
        )
    print_table(rows)


def _error(peaks: ConnectionPeaks) -> str:
    return f"  SAMPLER FAILED: {peaks.error}" if peaks.error else ""


# --------------------------------------------------------------------------- main


async def run(args: argparse.Namespace, server: Server, names: RunNames, workdir: Path) -> None:
    server_version = str((await fetch_all(server, "SELECT VERSION()"))[0][0])
    print(
        f"bench_tenants: run {names.run_id}, {args.tenants} tenants, core db {names.core_db}",
        file=sys.stderr,
        flush=True,
    )
    # Raw first and dropped again, so both runs start from the same server state.
    print(f"  raw baseline: {args.raw_tenants} tenants over one connection", file=sys.stderr, flush=True)
    raw = await raw_baseline(server, names, args.raw_tenants, workdir)
    await drop_databases(server, [names.raw_core_db], [names.raw_db_prefix])
    print(f"  provisioning {args.tenants} tenants through the service", file=sys.stderr, flush=True)
    prov = await provision_through_service(server, names, args.tenants, args.concurrency, workdir)
    mig = None
    if not args.skip_migrate:
        print("  migrating every tenant database (+1 revision)", file=sys.stderr, flush=True)
        mig = await migrate_through_service(server, names, args.migrate_concurrency, workdir)
    report(args, names, server_version, prov, raw, mig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_tenants", description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenants to provision (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent CreateTenant clients (default 8)")
    parser.add_argument("--raw-tenants", type=int, default=200, help="tenants in the raw baseline (default 200)")
    parser.add_argument(
        "--migrate-concurrency", type=int, default=8, help="MigrateTenantDatabases concurrency (default 8)"
    )
    parser.add_argument("--skip-migrate", action="store_true", help="skip the migration phase")
    parser.add_argument("--mysql-url", default=DEFAULT_URL, help=f"server and core db name prefix ({DEFAULT_URL})")
    args = parser.parse_args(argv)
    if args.tenants < 1 or args.concurrency < 1 or args.raw_tenants < 1:
        parser.error("--tenants, --concurrency and --raw-tenants must be positive")
    if not 1 <= args.migrate_concurrency <= 64:
        parser.error("--migrate-concurrency must be within 1..64")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = Server.from_url(args.mysql_url)
    names = RunNames(run_id=secrets.token_hex(3), base=server.database)
    workdir = Path(tempfile.mkdtemp(prefix="tm-bench-tenants-"))
    quiet_driver_notes()
    # SIGTERM cleans up like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # The loop the service processes run on (services/runtime/loop.py), so the numbers are theirs.
        run_on_service_loop(run(args, server, names, workdir))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        # A fresh loop: the run's loop may have died with the interrupt.
        print("  cleaning up: dropping this run's databases", file=sys.stderr, flush=True)
        dropped = asyncio.run(
            drop_databases(server, [names.core_db, names.raw_core_db], [names.service_db_prefix, names.raw_db_prefix])
        )
        print(f"  dropped {dropped} databases", file=sys.stderr, flush=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
