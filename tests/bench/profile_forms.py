"""Where the forms service's CPU goes: SubmitForm, ValidateSubmission and a filtered
ListSubmissions (typed, and as the JSON REST clients get) called in-process (gRPC, no edge) under cProfile.

    python -m tests.bench.profile_forms [--mysql-url ...] [--calls 300] [--seed 2000] [--top 25] [--plain]

Uses the 30-field form of tests/bench/bench_forms.py on MariaDB; prints the wall and CPU time per
call (client and service in this process, one call at a time), then for each RPC the functions
with the most cumulative and own time. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.runtime.json_documents import dict_to_struct
from tests.bench.bench_forms import FILTER, FORM_KEY, answers, bench_definition, seed
from tests.bench.common import load_note, quiet_driver_notes
from tests.bench.mariadb import Server, drop_databases
from tests.support.forms import definition, forms_world
from tests.support.mesh import RUN_TENANT_DB_PREFIX


async def run(args: argparse.Namespace) -> None:
    server = Server.from_url(args.mysql_url)
    core_db = f"{server.database}_profile_{uuid.uuid4().hex[:6]}"
    rng = random.Random(11)
    print(load_note())
    with tempfile.TemporaryDirectory(prefix="profile-forms-") as tmp:
        try:
            async with forms_world(server.url(core_db), Path(tmp), env={"TENANTMESH_LOG_LEVEL": "warning"}) as fw:
                quiet_driver_notes()
                admin = fw.as_("admin_a")
                form = pb.Form(key=FORM_KEY, draft=definition(bench_definition()))
                await fw.forms.CreateForm(pb.CreateFormRequest(form=form), metadata=admin)
                await fw.forms.PublishForm(pb.PublishFormRequest(key=FORM_KEY), metadata=admin)
                submit = pb.SubmitFormRequest(form_key=FORM_KEY, answers=dict_to_struct(answers(rng)))
                validate = pb.ValidateSubmissionRequest(form_key=FORM_KEY, answers=dict_to_struct(answers(rng)))
                await seed(fw, args.seed, rng)
                listing = pb.ListSubmissionsRequest(form_key=FORM_KEY, page_size=50, filter=FILTER)
                calls: dict[str, Callable[[], Awaitable[Any]]] = {
                    "SubmitForm": lambda: fw.submissions.SubmitForm(submit, metadata=admin),
                    "ValidateSubmission": lambda: fw.submissions.ValidateSubmission(validate, metadata=admin),
                    "ListSubmissions": lambda: fw.submissions.ListSubmissions(listing, metadata=admin),
                    # What GET /v1/submissions calls: the page as JSON the service writes.
                    "ListSubmissionsJson": lambda: fw.submissions.ListSubmissionsJson(listing, metadata=admin),
                }
                for name, call in calls.items():
                    for _ in range(20):  # warm caches
                        await call()
                    started, cpu = time.perf_counter(), time.process_time()
                    for _ in range(args.calls):
                        await call()
                    wall_ms = (time.perf_counter() - started) / args.calls * 1000
                    cpu_ms = (time.process_time() - cpu) / args.calls * 1000
                    print(f"\n===== {name}: {wall_ms:.2f} ms wall, {cpu_ms:.2f} ms CPU per call (not profiled)")
                    if args.plain:
                        continue
                    profile = cProfile.Profile()
                    profile.enable()
                    for _ in range(args.calls):
                        await call()
                    profile.disable()
                    stats = pstats.Stats(profile).strip_dirs()
                    stats.sort_stats("cumulative").print_stats(args.top)
                    stats.sort_stats("tottime").print_stats(args.top)
        finally:
            await drop_databases(server, [core_db], [RUN_TENANT_DB_PREFIX])  # the platform's and tenants' too


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.profile_forms", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mysql-url", default=os.environ.get("TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/tm_bench")
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--plain", action="store_true", help="time the calls only, no profile")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
