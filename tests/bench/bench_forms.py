"""Benchmark: the forms service on MariaDB through Envoy (issue 11 §9).

    python -m tests.bench.bench_forms [--mysql-url mysql+asyncmy://root@127.0.0.1:3306/tm_bench]
        [--submissions 100000] [--seconds 8] [--rounds 2] [--connections 50] [--threads 2]

Runs tenants + auth + forms in this process with token authentication (MariaDB core and tenant
databases), makes a tenant with its administrator and publishes a 30-field form with 8 rules and
one repeating group. Then, through a real Envoy (TLS, free ports, rate limits out of the way):

1. ``wrk`` alternates the trivial ``GET /v1/meta/server-info`` with ``POST .../submissions``
   (SubmitForm, valid answers), ``POST .../submissions:validate`` (ValidateSubmission) and, once
   the tenant holds ``--submissions`` submissions, ``GET /v1/submissions`` with one answer filter;
   best round of each, and each one's ratio to the trivial RPC measured in the same run.
2. The query plan MariaDB chooses for that filtered listing (EXPLAIN): it must use an index.
3. The export of every submission as CSV through Envoy: rows/s, and the growth of this process's
   resident memory (the service runs here) over its level before the export, sampled every 20 ms.

The submissions beyond those wrk made are written straight into the tenant's database in batches
(the same rows and indexed values SubmitForm writes), to reach the size quickly. Prints numbers;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.dialects import mysql
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.forms.answers import indexed_values
from services.forms.definitions import dumps
from services.forms.engine import evaluate
from services.forms.filters import parse_filter
from services.forms.models import FormRow, SubmissionRow, SubmissionValueRow
from services.forms.stored_answers import struct_bytes
from services.forms.submissions import SUBMISSIONS, _with_clauses
from services.mesh.devtls import ensure_dev_tls
from services.runtime.clock import utcnow
from services.runtime.ids import uuid7
from tests.bench.common import load_during_note, load_note, print_table, quiet_driver_notes, verdict
from tests.bench.edge_tools import WrkResult, best_round, run_wrk, running_envoy
from tests.bench.mariadb import Server, drop_databases
from tests.support.forms import FormsWorld, definition, forms_world
from tests.support.mesh import RUN_TENANT_DB_PREFIX

PUBLIC_PATH = "/v1/meta/server-info"
FORM_KEY = "bench-intake"
FILTER = 'answers.country = "ID"'
TARGETS = {"submit": 0.5, "validate": 0.7, "list": 0.3}
RSS_TARGET_MB = 50.0
COUNTRIES = ("ID", "NL", "US", "JP", "BR", "DE", "FR", "IN", "KE", "MX")


# --------------------------------------------------------------------------- the form


def bench_definition() -> dict[str, Any]:
    """30 fields (27 top-level answers, a repeating group of two, a computed total), 8 rules."""
    properties: dict[str, Any] = {}
    fields: list[dict[str, Any]] = []

    def add(key: str, schema: dict[str, Any], field_type: str, **more: Any) -> None:
        properties[key] = schema
        fields.append({"key": key, "type": f"FIELD_TYPE_{field_type}", "label": {"en": key.title()}, **more})

    add("name", {"type": "string", "minLength": 1, "maxLength": 80}, "SHORT_TEXT")
    add("email", {"type": "string", "format": "email"}, "EMAIL")
    add(
        "country",
        {"type": "string", "enum": list(COUNTRIES)},
        "SINGLE_CHOICE",
        options=[{"value": c} for c in COUNTRIES],
    )
    add("age", {"type": "integer", "minimum": 0, "maximum": 130}, "INTEGER")
    add("start", {"type": "string", "format": "date"}, "DATE")
    add("end", {"type": "string", "format": "date"}, "DATE", visibleWhen={"!!": {"var": "start"}})
    add("company", {"type": "string", "maxLength": 120}, "SHORT_TEXT")
    add(
        "vat",
        {"type": "string", "pattern": "^[A-Z]{2}[0-9]{6,12}$"},
        "SHORT_TEXT",
        visibleWhen={"!!": {"var": "company"}},
        requiredWhen={"!!": {"var": "company"}},
    )
    add("website", {"type": "string", "format": "uri"}, "URL")
    add("phone", {"type": "string", "maxLength": 30}, "PHONE")
    add("newsletter", {"type": "boolean"}, "CHECKBOX")
    add(
        "topics",
        {"type": "array", "items": {"enum": ["a", "b", "c"]}},
        "MULTIPLE_CHOICE",
        options=[{"value": v} for v in "abc"],
        visibleWhen={"==": [{"var": "newsletter"}, True]},
    )
    add("notes", {"type": "string", "maxLength": 2000}, "LONG_TEXT")
    for index in range(1, 15):
        add(f"q{index:02d}", {"type": "integer", "minimum": 0, "maximum": 10}, "INTEGER")
    properties["items"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": 20,
        "items": {
            "type": "object",
            "required": ["qty"],
            "properties": {"qty": {"type": "integer", "minimum": 1}, "price": {"type": "number", "minimum": 0}},
        },
    }
    fields.append(
        {
            "key": "items",
            "type": "FIELD_TYPE_REPEATING_GROUP",
            "minItems": 1,
            "maxItems": 20,
            "fields": [
                {"key": "qty", "type": "FIELD_TYPE_INTEGER"},
                {"key": "price", "type": "FIELD_TYPE_NUMBER", "requiredWhen": {">": [{"var": "items.qty"}, 10]}},
            ],
        }
    )
    properties["total"] = {"type": "number"}
    fields.append(
        {
            "key": "total",
            "type": "FIELD_TYPE_COMPUTED",
            "compute": {"reduce": [{"var": "items"}, {"+": [{"var": "accumulator"}, {"var": "current.qty"}]}, 0]},
        }
    )
    checks = [
        {
            "id": "end-after-start",
            "field": "end",
            "rule": {"or": [{"!": {"var": "end"}}, {">": [{"var": "end"}, {"var": "start"}]}]},
            "message": {"en": "The end date is after the start date"},
        },
        {
            "id": "adult",
            "field": "age",
            "rule": {"or": [{"!": {"var": "age"}}, {">=": [{"var": "age"}, 18]}]},
            "message": {"en": "Applicants are adults"},
        },
    ]
    schema = {"type": "object", "required": ["name", "email", "country"], "properties": properties}
    return {"schema": schema, "fields": fields, "checks": checks}


def answers(rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f"Person {rng.randrange(1_000_000)}",
        "email": f"p{rng.randrange(1_000_000)}@example.test",
        "country": rng.choice(COUNTRIES),
        "age": rng.randrange(18, 90),
        "start": "2026-01-05",
        "end": "2026-02-07",
        "company": "Acme",
        "vat": "ID12345678",
        "website": "https://example.test/x",
        "phone": "+62 21 555 0101",
        "newsletter": True,
        "topics": ["a", "c"],
        "notes": "Nothing to add.",
        "items": [{"qty": 2, "price": 3.5}, {"qty": 1}],
    }
    values.update({f"q{index:02d}": rng.randrange(0, 11) for index in range(1, 15)})
    return values


# --------------------------------------------------------------------------- measuring


@dataclass
class Rounds:
    results: dict[str, list[WrkResult]] = field(default_factory=dict)

    def best(self, name: str) -> WrkResult:
        return best_round(self.results[name])


def lua_post(directory: Path, name: str, body: dict[str, Any]) -> Path:
    path = directory / f"{name}.lua"
    payload = json.dumps(body).replace("\\", "\\\\").replace("'", "\\'")
    path.write_text(
        f"wrk.method = 'POST'\nwrk.body = '{payload}'\nwrk.headers['Content-Type'] = 'application/json'\n",
        encoding="utf-8",
    )
    return path


async def seed(fw: FormsWorld, count: int, rng: random.Random) -> float:
    """Writes ``count`` submissions into tenant A's database in batches; returns the seconds taken."""
    started = time.monotonic()
    db = await fw.database_of(fw.world.tenant_a)
    async with fw.mesh.runtime.db.tenant_session(db) as session:
        form = (await session.execute(select(FormRow).where(FormRow.key == FORM_KEY))).scalar_one()
    stored = evaluate(bench_definition(), answers(rng)).answers  # the shape SubmitForm stores
    batch = 2000
    for first in range(0, count, batch):
        rows, values = [], []
        now = utcnow()
        for _ in range(min(batch, count - first)):
            record = dict(stored, country=rng.choice(COUNTRIES), age=rng.randrange(18, 90))
            submission_id = uuid7()
            rows.append(
                {
                    "submission_id": submission_id,
                    "form_id": form.form_id,
                    "version": 1,
                    "answers_json": dumps(record),
                    "answers_struct": struct_bytes(record),
                    "status": "SUBMITTED",
                    "submitter": "user:bench",
                    "note": "",
                    "revision_count": 0,
                    "request_id": None,
                    "revision": 1,
                    "create_time": now,
                    "update_time": now,
                }
            )
            values += indexed_values(form.form_id, submission_id, record)
        async with fw.mesh.runtime.db.tenant_session(db) as session:
            await session.execute(insert(SubmissionRow), rows)
            await session.execute(insert(SubmissionValueRow), values)
            await session.commit()
        print(f"  seeded {first + len(rows)} / {count}", file=sys.stderr, flush=True)
    return time.monotonic() - started


async def query_plan(fw: FormsWorld) -> list[str]:
    """MariaDB's plan for the filtered listing, as the service builds it."""
    db = await fw.database_of(fw.world.tenant_a)
    async with fw.mesh.runtime.db.tenant_session(db) as session:
        form = (await session.execute(select(FormRow).where(FormRow.key == FORM_KEY))).scalar_one()
        query = select(SUBMISSIONS).where(SUBMISSIONS.c.form_id == form.form_id)
        query, key = _with_clauses(query, form.form_id, parse_filter(FILTER), {"country"})
        query = query.order_by(key.desc()).limit(51)
        sql = str(query.compile(dialect=mysql.dialect(), compile_kwargs={"literal_binds": True}))
        # Raw SQL is not routed to the tenant's database: name it.
        for table in ("submissions", "submission_values"):
            for before in ("FROM", "JOIN"):
                sql = sql.replace(f"{before} {table} ", f"{before} `{db.name}`.{table} ")
        rows = (await session.execute(text("EXPLAIN " + sql))).mappings().all()
    return [
        f"{row['table']}: type={row['type']} key={row['key']} rows={row['rows']} extra={row['Extra']}" for row in rows
    ]


def cpu_per_call(result: WrkResult) -> str:
    """The service's and Envoy's CPU per request: tells which side a listing's cost is on, and
    compares rounds even when the shared machine slows one down."""
    calls = result.requests or 1
    return ", ".join(f"{name} {1e6 * result.cpu_s.get(name, 0.0) / calls:.0f} us" for name in ("service", "envoy"))


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def measure_export(base: str, headers: dict[str, str], ca: Path) -> tuple[int, int, float, float]:
    """(rows, bytes, seconds, peak RSS growth in MB) of one CSV export through the edge."""
    baseline = rss_mb()
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rows = size = 0
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(verify=str(ca), timeout=600) as client:
            url = f"{base}/v1/forms/{FORM_KEY}/submissions:export"
            async with client.stream("GET", url, headers=headers) as response:
                assert response.status_code == 200, await response.aread()
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    rows += chunk.count(b"\r\n")
    finally:
        stop.set()
        sampler.join()
    return rows - 1, size, time.monotonic() - started, peak - baseline


async def run(args: argparse.Namespace) -> None:
    server = Server.from_url(args.mysql_url)
    core_db = f"{server.database}_forms_{uuid.uuid4().hex[:6]}"
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="bench-forms-") as tmp:
        workdir = Path(tmp)
        env_dir = workdir / "data"
        try:
            async with forms_world(server.url(core_db), env_dir, env={"TENANTMESH_LOG_LEVEL": "warning"}) as fw:
                quiet_driver_notes()
                admin = fw.as_("admin_a")
                form = pb.Form(key=FORM_KEY, draft=definition(bench_definition()))
                await fw.forms.CreateForm(pb.CreateFormRequest(form=form), metadata=admin)
                await fw.forms.PublishForm(pb.PublishFormRequest(key=FORM_KEY), metadata=admin)
                sample = answers(rng)
                assert evaluate(bench_definition(), sample).valid
                await report(args, fw, sample, rng, workdir)
        finally:
            # The platform's and the tenants' databases carry the run's prefix (tests/support/mesh.py).
            await drop_databases(server, [core_db], [RUN_TENANT_DB_PREFIX])


async def report(
    args: argparse.Namespace, fw: FormsWorld, sample: dict[str, Any], rng: random.Random, workdir: Path
) -> None:
    tls = ensure_dev_tls(workdir / "tls")
    headers = {"authorization": f"Bearer {fw.world.tokens['admin_a']}", "x-tenant-id": fw.world.tenant_a}
    scripts = {
        "submit": lua_post(workdir, "submit", {"answers": sample}),
        "validate": lua_post(workdir, "validate", {"answers": sample}),
    }
    rounds = Rounds()
    async with running_envoy(fw.mesh.started, fw.mesh.runtime.settings, tls, workdir / "envoy") as (envoy, edge):
        base = f"https://127.0.0.1:{edge.https_port}"
        urls = {
            "trivial": (base + PUBLIC_PATH, None),
            "submit": (f"{base}/v1/forms/{FORM_KEY}/submissions", scripts["submit"]),
            "validate": (f"{base}/v1/forms/{FORM_KEY}/submissions:validate", scripts["validate"]),
        }

        async def alternate(names: list[str]) -> None:
            for name in names:  # warm-up
                url, script = urls[name]
                await run_wrk(
                    url,
                    envoy,
                    seconds=2,
                    connections=args.connections,
                    threads=args.threads,
                    headers=headers,
                    script=script,
                )
            for index in range(args.rounds):
                for name in names:
                    url, script = urls[name]
                    result = await run_wrk(
                        url,
                        envoy,
                        seconds=args.seconds,
                        connections=args.connections,
                        threads=args.threads,
                        headers=headers,
                        script=script,
                    )
                    rounds.results.setdefault(name, []).append(result)
                    print(
                        f"    round {index + 1} {name:9s} {result.requests_per_s:8.0f} req/s  "
                        f"p50 {result.p50:7.2f} ms  p99 {result.p99:7.2f} ms  non-2xx {result.non_2xx}  "
                        f"CPU per call {cpu_per_call(result)}",
                        file=sys.stderr,
                        flush=True,
                    )

        await alternate(["trivial", "submit", "validate"])
        seeded_s = await seed(fw, args.submissions, rng)
        urls["list"] = (f"{base}/v1/submissions?formKey={FORM_KEY}&pageSize=50&filter={quote(FILTER)}", None)
        urls["trivial-2"] = urls["trivial"]
        await alternate(["trivial-2", "list"])
        plan = await query_plan(fw)
        rows, size, seconds, growth = await measure_export(base, headers, tls.ca_cert)

    trivial, trivial_2 = rounds.best("trivial"), rounds.best("trivial-2")
    table: list[tuple[str, str]] = [
        ("backend", "MariaDB, through Envoy (TLS), service in this process"),
        ("", load_note()),
        ("", load_during_note()),
        (
            "trivial",
            f"GET {PUBLIC_PATH} with the same token and tenant header (its token verified by the edge and the service)",
        ),
    ]
    for name, baseline in (("submit", trivial), ("validate", trivial), ("list", trivial_2)):
        best = rounds.best(name)
        ratio = best.requests_per_s / baseline.requests_per_s
        table.append(
            (
                f"{name} / trivial",
                f"{best.requests_per_s:.0f} / {baseline.requests_per_s:.0f} req/s = {ratio:.2f} "
                f"(target >= {TARGETS[name]}: {verdict(ratio >= TARGETS[name])}); p99 {best.p99:.1f} ms, "
                f"non-2xx {best.non_2xx}; CPU per call {cpu_per_call(best)} (trivial {cpu_per_call(baseline)})",
            )
        )
    table.append(("seeded", f"{args.submissions} submissions in {seeded_s:.0f} s (filter {FILTER})"))
    for line in plan:
        table.append(("query plan", line))
    table.append(
        (
            "export (CSV)",
            f"{rows} rows, {size / 1e6:.1f} MB in {seconds:.1f} s = {rows / seconds:.0f} rows/s; "
            f"RSS growth {growth:.1f} MB (target <= {RSS_TARGET_MB}: {verdict(growth <= RSS_TARGET_MB)})",
        )
    )
    print("bench_forms")
    print_table(table)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_forms", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/tm_bench"),
        help="MariaDB server (the database name is a prefix for this run's databases)",
    )
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
