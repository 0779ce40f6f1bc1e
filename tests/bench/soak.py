"""Soak: the platform as separate processes on MariaDB and Redis, at half its measured capacity,
for a long time, across many tenants (``make soak``; not part of CI).

1. Starts tenants, auth, registry, forms and menus, each its own process, on a fresh core
   database and the given Redis; provisions ``--tenants`` tenants (each with a published form).
2. Measures capacity: ``--concurrency`` callers in a closed loop for ``--capacity-seconds``.
3. Soaks at half that rate (open loop) for ``SOAK_MINUTES`` (30 by default) with a mix of RPCs
   of every service over all tenants: reads, tenant updates (events through the outbox), form
   submissions, listings.
4. Samples every process every ``--sample-seconds``: resident memory, open file descriptors,
   TCP connections to MariaDB and Redis, and from its Prometheus endpoint the pool's connections
   in use and the outbox backlog.

Prints a summary; exits 1 unless there were zero errors, every process's RSS grew at most 10 %
after the warm-up (the first fifth, at least one sample), and connections, descriptors and the
outbox backlog did not grow.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import redis.asyncio as redis
from google.protobuf import struct_pb2
from tenantmesh.auth.v1 import admin_service_pb2, admin_service_pb2_grpc, auth_service_pb2, auth_service_pb2_grpc
from tenantmesh.forms.v1 import form_service_pb2 as forms_pb
from tenantmesh.forms.v1 import form_service_pb2_grpc as forms_grpc
from tenantmesh.menus.v1 import menu_service_pb2 as menus_pb
from tenantmesh.menus.v1 import menu_service_pb2_grpc as menus_grpc
from tenantmesh.tenants.v1 import tenant_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb
from tenantmesh.tenants.v1 import tenant_service_pb2_grpc as tenants_grpc

from tests.bench.mariadb import Server, drop_databases
from tests.support.forms import definition
from tests.support.mesh import RUN_TENANT_DB_PREFIX
from tests.support.ports import free_port
from tests.support.processes import (
    ProcessMesh,
    ServiceProcess,
    new_key_encryption_key,
    new_service_api_key,
)

SERVICES = ("tenants", "auth", "registry", "forms", "menus")
ADMIN_EMAIL = "soak-admin@tenantmesh.local"
ADMIN_PASSWORD = f"soak-{secrets.token_urlsafe(12)}"
FORM_KEY = "soak-form"
RSS_GROWTH_LIMIT = 0.10
CONFLICT_RETRIES = 3
MYSQL_PORT_HEX, REDIS_PORT_HEX = f"{3306:04X}", f"{6379:04X}"


def form_definition() -> Any:
    return definition(
        {
            "schema": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "maxLength": 50}, "age": {"type": "integer", "minimum": 0}},
            },
            "fields": [
                {"key": "name", "type": "FIELD_TYPE_SHORT_TEXT", "label": {"en": "Name"}},
                {"key": "age", "type": "FIELD_TYPE_INTEGER"},
            ],
        }
    )


# -- the platform ---------------------------------------------------------------------------------


def base_environment(database_url: str, redis_url: str, addresses: dict[str, str]) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TENANTMESH_TENANT_DB_PREFIX": RUN_TENANT_DB_PREFIX,
        "TENANTMESH_SERVICE_API_KEY": new_service_api_key(),
        "TENANTMESH_KEY_ENCRYPTION_KEY": new_key_encryption_key(),
        "TENANTMESH_ADMIN_EMAIL": ADMIN_EMAIL,
        "TENANTMESH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TENANTMESH_LOG_LEVEL": "warning",
        "TENANTMESH_LOG_FORMAT": "text",
        "TENANTMESH_SHUTDOWN_GRACE_SECONDS": "2",
        "TENANTMESH_MESH_TLS": "off",
        "TENANTMESH_LIFECYCLE_SERVICES": "tenants,forms,menus",
        # One login for the whole soak.
        "TENANTMESH_ACCESS_TOKEN_TTL_SECONDS": str(6 * 3600),
        "TENANTMESH_TRACING": "off",
    }
    for service, address in addresses.items():
        env[f"TENANTMESH_{service.upper()}_ADDR"] = address
    return env


@dataclass
class Platform:
    mesh: ProcessMesh
    processes: dict[str, ServiceProcess]
    metrics_urls: dict[str, str]
    token: str = ""

    def metadata(self, tenant_id: str = "") -> tuple[tuple[str, str], ...]:
        auth = (("authorization", f"Bearer {self.token}"),)
        return (*auth, ("x-tenant-id", tenant_id)) if tenant_id else auth

    def channel(self, service: str) -> grpc.aio.Channel:
        return self.processes[service].channel


async def start_platform(mesh: ProcessMesh) -> Platform:
    processes: dict[str, ServiceProcess] = {}
    metrics: dict[str, str] = {}
    # One after the other: each migrates its core tables at start.
    for service in SERVICES:
        port = free_port()
        started = mesh.spawn(service, extra_env={"TENANTMESH_METRICS_PORT": str(port)})
        await started.wait_serving(within_seconds=120)
        processes[service] = started
        metrics[service] = f"http://127.0.0.1:{port}/metrics"
    return Platform(mesh, processes, metrics)


async def login(platform: Platform) -> None:
    stub: Any = auth_service_pb2_grpc.AuthServiceStub(platform.channel("auth"))
    response = await stub.Login(
        auth_service_pb2.LoginRequest(tenant="platform", email=ADMIN_EMAIL, password=ADMIN_PASSWORD), timeout=30
    )
    platform.token = response.tokens.access_token


@dataclass
class SoakTenant:
    tenant_id: str
    slug: str
    submissions: int = 0


async def provision(platform: Platform, count: int, concurrency: int) -> list[SoakTenant]:
    tenants: Any = tenants_grpc.TenantServiceStub(platform.channel("tenants"))
    forms: Any = forms_grpc.FormServiceStub(platform.channel("forms"))
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> SoakTenant:
        async with gate:
            slug = f"soak-{i:03d}-{uuid.uuid4().hex[:6]}"
            created = await tenants.CreateTenant(
                tenants_pb.CreateTenantRequest(tenant=tenant_pb2.Tenant(slug=slug)),
                metadata=platform.metadata(),
                timeout=120,
            )
            tenant_id = created.tenant.tenant_id
            form = forms_pb.Form(key=FORM_KEY, draft=form_definition())
            await forms.CreateForm(forms_pb.CreateFormRequest(form=form), metadata=platform.metadata(tenant_id))
            await forms.PublishForm(forms_pb.PublishFormRequest(key=FORM_KEY), metadata=platform.metadata(tenant_id))
            return SoakTenant(tenant_id, slug)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


# -- the load -----------------------------------------------------------------------------------


Operation = Callable[[SoakTenant], Awaitable[object]]


def operations(platform: Platform) -> list[tuple[str, int, Operation]]:
    """(name, weight, call) of the mix: mostly reads, a fifth writes."""
    tenants: Any = tenants_grpc.TenantServiceStub(platform.channel("tenants"))
    forms: Any = forms_grpc.FormServiceStub(platform.channel("forms"))
    submissions: Any = forms_grpc.SubmissionServiceStub(platform.channel("forms"))
    menus: Any = menus_grpc.MenuServiceStub(platform.channel("menus"))
    users: Any = admin_service_pb2_grpc.UserServiceStub(platform.channel("auth"))
    md = platform.metadata

    async def get_tenant(t: SoakTenant) -> object:
        return await tenants.GetTenant(tenants_pb.GetTenantRequest(tenant_id=t.tenant_id), metadata=md(), timeout=10)

    async def current_tenant(t: SoakTenant) -> object:
        return await tenants.GetCurrentTenant(
            tenants_pb.GetCurrentTenantRequest(), metadata=md(t.tenant_id), timeout=10
        )

    async def list_tenants(_t: SoakTenant) -> object:
        return await tenants.ListTenants(tenants_pb.ListTenantsRequest(page_size=20), metadata=md(), timeout=10)

    async def update_tenant(t: SoakTenant) -> object:
        tenant = tenant_pb2.Tenant(tenant_id=t.tenant_id, labels={"soak": str(random.randrange(1000))})
        request = tenants_pb.UpdateTenantRequest(tenant=tenant)
        request.update_mask.paths.append("labels")
        return await tenants.UpdateTenant(request, metadata=md(), timeout=10)

    async def get_form(t: SoakTenant) -> object:
        return await forms.GetForm(forms_pb.GetFormRequest(key=FORM_KEY), metadata=md(t.tenant_id), timeout=10)

    async def list_forms(t: SoakTenant) -> object:
        return await forms.ListForms(forms_pb.ListFormsRequest(page_size=10), metadata=md(t.tenant_id), timeout=10)

    async def submit(t: SoakTenant) -> object:
        answers = struct_pb2.Struct()
        answers.update({"name": f"n{random.randrange(10**6)}", "age": random.randrange(90)})
        t.submissions += 1
        return await submissions.SubmitForm(
            forms_pb.SubmitFormRequest(form_key=FORM_KEY, answers=answers, request_id=str(uuid.uuid4())),
            metadata=md(t.tenant_id),
            timeout=10,
        )

    async def list_submissions(t: SoakTenant) -> object:
        request = forms_pb.ListSubmissionsRequest(page_size=10, form_key=FORM_KEY)
        return await submissions.ListSubmissions(request, metadata=md(t.tenant_id), timeout=10)

    async def menu_entries(t: SoakTenant) -> object:
        return await menus.ListMenuEntries(menus_pb.ListMenuEntriesRequest(), metadata=md(t.tenant_id), timeout=10)

    async def list_users(t: SoakTenant) -> object:
        return await users.ListUsers(
            admin_service_pb2.ListUsersRequest(page_size=10), metadata=md(t.tenant_id), timeout=10
        )

    return [
        ("tenants.GetTenant", 15, get_tenant),
        ("tenants.GetCurrentTenant", 15, current_tenant),
        ("tenants.ListTenants", 5, list_tenants),
        ("tenants.UpdateTenant", 5, update_tenant),
        ("forms.GetForm", 15, get_form),
        ("forms.ListForms", 10, list_forms),
        ("forms.SubmitForm", 15, submit),
        ("forms.ListSubmissions", 10, list_submissions),
        ("menus.ListMenuEntries", 5, menu_entries),
        ("auth.ListUsers", 5, list_users),
    ]


@dataclass
class Tally:
    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    retried: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    async def run(self, name: str, op: Operation, tenant: SoakTenant) -> None:
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                started = time.perf_counter()
                await op(tenant)
                self.seconds[name] += time.perf_counter() - started
                self.ok[name] += 1
                return
            except grpc.aio.AioRpcError as exc:
                # Two writers of one tenant collided: the platform changed nothing and asks for a
                # retry (ABORTED), as a client does. Counted, not an error.
                if exc.code() == grpc.StatusCode.ABORTED and attempt < CONFLICT_RETRIES:
                    self.retried[name] += 1
                    continue
                self.errors[f"{name}: {exc.code().name} {(exc.details() or '')[:80]}"] += 1
                return

    @property
    def total(self) -> int:
        return sum(self.ok.values()) + sum(self.errors.values())


class Mix:
    def __init__(self, platform: Platform, tenants: list[SoakTenant], seed: int) -> None:
        self._ops = operations(platform)
        self._weights = [w for _, w, _ in self._ops]
        self._tenants = tenants
        self._rng = random.Random(seed)

    def next(self) -> tuple[str, Operation, SoakTenant]:
        name, _, op = self._rng.choices(self._ops, weights=self._weights)[0]
        return name, op, self._rng.choice(self._tenants)


async def measure_capacity(mix: Mix, concurrency: int, seconds: float) -> float:
    tally = Tally()
    deadline = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < deadline:
            await tally.run(*mix.next())

    started = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    if tally.errors:
        raise SystemExit(f"errors while measuring capacity: {dict(tally.errors)}")
    return tally.total / (time.monotonic() - started)


async def open_loop(mix: Mix, rate: float, seconds: float, tally: Tally) -> None:
    """Starts calls at ``rate`` per second whatever their latency (a slow platform queues up)."""
    started = time.monotonic()
    sent = 0
    in_flight: set[asyncio.Task[None]] = set()
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate) - sent
        for _ in range(due):
            task = asyncio.create_task(tally.run(*mix.next()))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        sent += max(due, 0)
        await asyncio.sleep(0.01)
    await asyncio.gather(*in_flight)


# -- sampling ---------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    rss_kib: int
    fds: int
    mysql_connections: int
    redis_connections: int
    pool_in_use: float
    outbox_backlog: float


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp_peers() -> dict[str, str]:
    """Socket inode -> remote port (hex) of every established TCP connection on this host."""
    peers = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "01":  # ESTABLISHED
                peers[parts[9]] = parts[2].rsplit(":", 1)[1]
    return peers


def _process_state(pid: int, peers: dict[str, str]) -> tuple[int, int, Counter[str]]:
    """Resident KiB, open descriptors and TCP connections by remote port (hex) of ``pid``."""
    inodes = _socket_inodes(pid)
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return _rss_kib(pid), fds, Counter(peers[i] for i in inodes if i in peers)


_METRIC_RE = re.compile(r"^(tenantmesh_[a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+|NaN)$")


async def scrape(client: httpx.AsyncClient, url: str) -> dict[str, float]:
    """Metric name -> sum over its label sets."""
    text = (await client.get(url, timeout=10)).text
    sums: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_RE.match(line)
        if match and match.group(3) != "NaN":
            sums[match.group(1)] = sums.get(match.group(1), 0.0) + float(match.group(3))
    return sums


async def sample(platform: Platform, client: httpx.AsyncClient) -> dict[str, Sample]:
    peers = _tcp_peers()
    samples = {}
    for service, process in platform.processes.items():
        rss_kib, fds, ports = _process_state(process.process.pid, peers)
        metrics = await scrape(client, platform.metrics_urls[service])
        samples[service] = Sample(
            at=time.monotonic(),
            rss_kib=rss_kib,
            fds=fds,
            mysql_connections=ports[MYSQL_PORT_HEX],
            redis_connections=ports[REDIS_PORT_HEX],
            pool_in_use=metrics.get("tenantmesh_db_pool_connections_in_use", 0.0),
            outbox_backlog=metrics.get("tenantmesh_outbox_backlog", 0.0),
        )
    return samples


async def sampler(platform: Platform, every: float, into: list[dict[str, Sample]], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            into.append(await sample(platform, client))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


# -- report -----------------------------------------------------------------------------------


@dataclass
class Verdict:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, text: str) -> None:
        self.lines.append(f"  {'ok  ' if ok else 'FAIL'} {text}")
        if not ok:
            self.failures.append(text)


def judge(samples: list[dict[str, Sample]], tally: Tally, warm_up: int) -> Verdict:
    verdict = Verdict()
    verdict.check(not tally.errors, f"errors: {sum(tally.errors.values())} of {tally.total} calls")
    after_warm_up = samples[warm_up:]
    start, end = after_warm_up[0], after_warm_up[-1]
    for service in start:
        first, last = start[service], end[service]
        growth = (last.rss_kib - first.rss_kib) / first.rss_kib
        verdict.check(
            growth <= RSS_GROWTH_LIMIT,
            f"{service:<8} RSS {first.rss_kib / 1024:.1f} -> {last.rss_kib / 1024:.1f} MiB ({growth:+.1%})",
        )
        most_mysql = max(s[service].mysql_connections for s in after_warm_up)
        verdict.check(
            last.mysql_connections <= first.mysql_connections + 1
            and most_mysql <= max(first.mysql_connections, 1) * 2 + 2,
            f"{service:<8} MariaDB connections {first.mysql_connections} -> {last.mysql_connections}"
            f" (most {most_mysql})",
        )
        verdict.check(
            last.redis_connections <= first.redis_connections + 1,
            f"{service:<8} Redis connections {first.redis_connections} -> {last.redis_connections}",
        )
        verdict.check(last.fds <= first.fds + 2, f"{service:<8} file descriptors {first.fds} -> {last.fds}")
        verdict.check(
            last.outbox_backlog <= max(first.outbox_backlog, 5),
            f"{service:<8} outbox backlog {first.outbox_backlog:.0f} -> {last.outbox_backlog:.0f}",
        )
    return verdict


def print_summary(
    args: argparse.Namespace, capacity: float, rate: float, seconds: float, tally: Tally, verdict: Verdict,
    final_metrics: dict[str, dict[str, float]],
) -> None:  # fmt: skip
    print(f"\nsoak: {args.tenants} tenants, {len(SERVICES)} processes on MariaDB + Redis")
    print(f"  capacity (closed loop, {args.concurrency} callers): {capacity:.0f} calls/s")
    print(
        f"  soak: {rate:.0f} calls/s for {seconds / 60:.1f} min -> {tally.total} calls ({tally.total / seconds:.0f}/s)"
    )
    for name, count in sorted(tally.ok.items()):
        print(f"    {name:<26} {count:>7} calls, mean {tally.seconds[name] / count * 1000:6.1f} ms")
    for name, count in sorted(tally.retried.items()):
        print(f"    retried after ABORTED (conflict) {name:<26} {count}")
    for text, count in sorted(tally.errors.items()):
        print(f"    ERROR {text} x{count}")
    print("  checks (first sample after warm-up -> last):")
    print("\n".join(verdict.lines))
    print("  Prometheus metrics at the end (summed over labels):")
    wanted = (
        "tenantmesh_rpc_server_requests_total",
        "tenantmesh_rpc_server_errors_total",
        "tenantmesh_db_pool_size",
        "tenantmesh_db_pool_connections_in_use",
        "tenantmesh_db_pool_capacity",
        "tenantmesh_outbox_backlog",
        "tenantmesh_events_published_total",
        "tenantmesh_events_handled_total",
        "tenantmesh_events_dead_lettered_total",
        "tenantmesh_events_consumer_lag",
    )
    print(f"    {'metric':<40}" + "".join(f"{s:>10}" for s in SERVICES))
    for metric in wanted:
        row = [final_metrics[s].get(metric) for s in SERVICES]
        if any(v is not None for v in row):
            print(f"    {metric:<40}" + "".join(f"{v:>10.0f}" if v is not None else f"{'-':>10}" for v in row))


# -- main -------------------------------------------------------------------------------------


async def soak(args: argparse.Namespace) -> int:
    server = Server.from_url(args.mysql_url)
    core_db = f"{server.database}_soak_{uuid.uuid4().hex[:6]}"
    client = redis.from_url(args.redis_url)
    await client.flushdb()
    await client.aclose()
    root = Path(args.workdir)
    addresses = {service: f"127.0.0.1:{free_port()}" for service in SERVICES}
    mesh = ProcessMesh(
        base_env=base_environment(server.url(core_db), args.redis_url, addresses), root=root, addresses=addresses
    )
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    try:
        platform = await start_platform(mesh)
        await login(platform)
        started = time.monotonic()
        tenants = await provision(platform, args.tenants, args.concurrency)
        print(f"process logs in {root}", flush=True)
        print(f"provisioned {len(tenants)} tenants in {time.monotonic() - started:.0f} s", flush=True)
        mix = Mix(platform, tenants, args.seed)
        capacity = await measure_capacity(mix, args.concurrency, args.capacity_seconds)
        rate = capacity * args.load
        seconds = args.minutes * 60
        print(f"capacity {capacity:.0f} calls/s; soaking at {rate:.0f}/s for {args.minutes} min", flush=True)
        samples: list[dict[str, Sample]] = []
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler(platform, args.sample_seconds, samples, stop))
        tally = Tally()
        try:
            await open_loop(mix, rate, seconds, tally)
        finally:
            stop.set()
            await sampling
        async with httpx.AsyncClient() as http:
            samples.append(await sample(platform, http))
            final = {s: await scrape(http, platform.metrics_urls[s]) for s in SERVICES}
        warm_up = max(1, len(samples) // 5)
        verdict = judge(samples, tally, warm_up)
        print_summary(args, capacity, rate, seconds, tally, verdict, final)
        return 1 if verdict.failures else 0
    finally:
        await mesh.stop_all()
        await drop_databases(server, [core_db], [RUN_TENANT_DB_PREFIX])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--mysql-url", default=os.environ.get("TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/tm_soak")
    )
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30")))
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--load", type=float, default=0.5, help="share of the measured capacity to soak at")
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workdir", help="process data and logs (default: a new temporary directory)")
    args = parser.parse_args(argv)
    args.workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="tenantmesh-soak-"))
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(soak(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
