"""Benchmark: password logins/s, refreshes/s, and an authenticated vs an unauthenticated RPC through Envoy.

    python -m tests.bench.bench_auth [--seconds 10] [--users 50] [--login-concurrency 4,16]
        [--refresh-concurrency 4,16] [--replicas <vCPUs>] [--connections 50] [--threads 2]
        [--rounds 2] [--parts logins,refreshes,edge]
        [--mysql-url mysql+asyncmy://root@127.0.0.1:3306/tm_bench]
        [--redis-url redis://127.0.0.1:6379/14]

Runs the platform as production does, in this process: the tenants and auth services
with token authentication (JWT verified by the runtime), on a fresh MariaDB core
database ``<db>_auth_<run id>``. A Python process serves on one core, so production
scales a service by replicas (deploy/README.md); so does this benchmark: ``--replicas``
auth servers in all (default: one per vCPU), the first in this process, the others in
processes of their own on the same core database, with events through Redis as
replicas need them. As the platform administrator, through the API, it creates one
tenant and ``--users`` members. Then:

1. Logins: a client process drives ``AuthService.Login`` over gRPC straight to the
   auth replicas (its connections spread evenly over them, as a balancer would; correct
   passwords only, users taken round-robin, so no account locks; attempts in flight count
   against the client's address until they succeed, so concurrency stays below its threshold,
   TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES, 50 by default),
   ``--seconds`` per concurrency level in ``--login-concurrency``.
2. Refreshes: one session per client is logged in beforehand; each client then
   refreshes its own session in a loop, always with the newest refresh token, on the
   replica its connection goes to.
3. Through a real Envoy (TLS, dev certificate, jwt_authn when the template has it) in
   front of this process's servers, ``wrk`` alternates the public ``GET /v1/meta/server-info`` with authenticated GETs:
   ``/v1/auth/me`` (GetMe: the user's profile, cached 5 s per process), ``/v1/tenants/{id}`` with the platform
   admin's token (GetTenant, served from the tenants service's view cache: no database
   on a hit) and the public URL again with a bearer token (the edge lets it through
   unverified; the service verifies it), so the authentication cost is visible apart
   from the handler's.

Round trips per operation are read from the server's own command counters (SHOW
GLOBAL STATUS before and after each measurement), not from hooks in the service:
hooks on every statement cost the service CPU and would slow what they measure.

Every database the run creates (core, the tenant's) is dropped at the end, also on
Ctrl-C or SIGTERM; ``tenant_platform`` (the platform tenant's, a fixed name shared by every
MariaDB run and test) is left alone. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import multiprocessing
import os
import platform as host
import secrets
import shutil
import signal
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from argon2 import PasswordHasher
from tenantmesh.auth.v1 import admin_service_pb2 as admin_pb
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import auth_service_pb2_grpc, user_pb2

from services.auth import passwords
from services.auth.app import AuthApp
from services.mesh.devtls import DevTls, ensure_dev_tls
from services.runtime.app import Runtime, StartedApp, start_app, stop_apps
from services.runtime.config import Settings
from services.runtime.cpus import usable_cpus
from services.runtime.heap import settle_after_startup
from services.runtime.logging import configure_logging
from services.runtime.loop import run as run_on_service_loop
from services.tenants.app import TenantsApp
from tests.bench.common import bench_settings, load_note, percentile, print_table, quiet_driver_notes, verdict
from tests.bench.edge_tools import WrkResult, best_round, cpu_seconds, running_envoy, wrk_round
from tests.bench.mariadb import Server, drop_databases, fetch_all
from tests.support.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform, bearer

DEFAULT_URL = "mysql+asyncmy://root@127.0.0.1:3306/tm_bench"
# Replicas share events through Redis (revocations, key rotations, cache invalidation);
# a database of its own keeps the benchmark's streams apart from the tests' (15).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
# Keycloak sizing guide anchors (per vCPU) and the multiples of them.
KEYCLOAK_LOGINS_PER_VCPU = 15.0
KEYCLOAK_REFRESHES_PER_VCPU = 120.0
TARGET_LOGIN_FACTOR = 2.0
TARGET_REFRESH_FACTOR = 4.0
TARGET_AUTH_RATIO = 0.8
PUBLIC_PATH = "/v1/meta/server-info"
ME_PATH = "/v1/auth/me"


def mariadb_pids() -> list[int]:
    """The local MariaDB/MySQL server processes (read from /proc), for their CPU use."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("mariadbd", "mysqld"):
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds of the service (this process and the replicas'), of this process's event loop
    thread alone, and of the database server.

    Create and read it on the event loop's thread: the loop thread runs every handler's Python;
    argon2 runs in the hashing pool's threads, gRPC's core in its own.
    """

    def __init__(self, replica_pids: Sequence[int]) -> None:
        self._service = (os.getpid(), *replica_pids)
        self._db = mariadb_pids()
        self._start = self._read()

    def _read(self) -> tuple[float, float, float]:
        return (
            sum(cpu_seconds(p) for p in self._service),
            time.thread_time(),
            sum(cpu_seconds(p) for p in self._db),
        )

    def restart(self) -> None:
        self._start = self._read()

    def used(self) -> tuple[float, float, float]:
        """(process, loop thread, database server) CPU seconds since the start."""
        now = self._read()
        return now[0] - self._start[0], now[1] - self._start[1], now[2] - self._start[2]


# Server-side command counters: what the database actually received, from every
# client of the server during the measurement (the bench's own SHOW STATUS excluded),
# with no instrumentation inside the service to slow it down.
_COUNTERS = {
    "Com_select": "select",
    "Com_insert": "insert",
    "Com_update": "update",
    "Com_delete": "delete",
    "Com_commit": "commits",
    "Com_rollback": "rollbacks",
    "Com_admin_commands": "pings",
    "Questions": "questions",
}


@dataclass
class SqlCounts:
    select: int = 0
    insert: int = 0
    update: int = 0
    delete: int = 0
    commits: int = 0
    rollbacks: int = 0
    pings: int = 0  # COM_PING, counted by the server as an admin command
    questions: int = 0  # every statement the server was sent (SHOW STATUS included)

    def minus(self, other: SqlCounts) -> SqlCounts:
        return SqlCounts(*(a - b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True)))

    def per(self, ops: int) -> str:
        if not ops:
            return "n/a"
        statements = self.select + self.insert + self.update + self.delete
        trips = statements + self.commits + self.rollbacks + self.pings
        return (
            f"{trips / ops:.1f} round trips per op (server counters): {self.select / ops:.1f} SELECT, "
            f"{self.insert / ops:.1f} INSERT, {self.update / ops:.1f} UPDATE, {self.delete / ops:.1f} DELETE, "
            f"{self.commits / ops:.1f} COMMIT, {self.rollbacks / ops:.1f} ROLLBACK, {self.pings / ops:.1f} ping"
        )


class ServerCounters:
    """Reads the server's global command counters over a connection of its own."""

    def __init__(self) -> None:
        self._conn: Any = None

    async def open(self, server: Server) -> None:
        self._conn = await server.connect(autocommit=True)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def snapshot(self) -> SqlCounts:
        if self._conn is None:
            return SqlCounts()
        names = ", ".join(f"'{name}'" for name in _COUNTERS)
        async with self._conn.cursor() as cursor:
            await cursor.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})")
            values = {_COUNTERS[name]: int(value) for name, value in await cursor.fetchall()}
        return SqlCounts(**values)


SQL = ServerCounters()


# --------------------------------------------------------------------------- the platform


@contextlib.asynccontextmanager
async def auth_platform(settings: Settings) -> AsyncIterator[Platform]:
    """Tenants + auth in this process with token authentication, as tests/support/platform.py runs them."""
    runtime = await Runtime.open(settings)
    started: list[StartedApp] = []
    handle: Platform | None = None
    try:
        tenants_app = TenantsApp(runtime)
        started.append(await start_app(tenants_app, runtime, "127.0.0.1:0"))
        auth_app = AuthApp(runtime)  # after the tenants server is bound: it resolves that address now
        started.append(await start_app(auth_app, runtime, "127.0.0.1:0"))
        settle_after_startup()  # as a service process does once it is up
        handle = Platform(runtime=runtime, started=started)
        yield handle
    finally:
        if handle is not None:
            for channel in handle.channels.values():
                await channel.close()
        with contextlib.suppress(Exception):
            await stop_apps(started, 1.0)
        await runtime.close()


# --------------------------------------------------------------------------- auth replicas


@dataclass
class AuthReplicas:
    """Every auth server of the run: this process's first, then the replica processes'."""

    addresses: list[str]
    pids: list[int]  # the replica processes' (this process is measured anyway)


def _replica_main(settings: Settings, pipe: Connection) -> None:
    """Child process: one more auth replica on the run's databases, until the parent says stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops this process
    configure_logging(settings.log_level, settings.log_format)
    quiet_driver_notes()
    try:
        run_on_service_loop(_serve_replica(settings, pipe))
    except BaseException as exc:  # reported to the parent, which raises it
        with contextlib.suppress(OSError):
            pipe.send({"error": repr(exc)})
    finally:
        pipe.close()


async def _serve_replica(settings: Settings, pipe: Connection) -> None:
    runtime = await Runtime.open(settings)
    started: list[StartedApp] = []
    try:
        started.append(await start_app(AuthApp(runtime), runtime, "127.0.0.1:0"))
        settle_after_startup()
        pipe.send({"address": f"127.0.0.1:{started[0].server.port}"})
        with contextlib.suppress(EOFError):  # the parent's end closed: stop as well
            await _receive(pipe, math.inf)
    finally:
        with contextlib.suppress(Exception):
            await stop_apps(started, 1.0)
        await runtime.close()


@contextlib.asynccontextmanager
async def auth_replicas(mesh: Platform, count: int) -> AsyncIterator[AuthReplicas]:
    """Starts ``count - 1`` replicas beside this process's auth server, each a process of its own."""
    ctx = multiprocessing.get_context("spawn")
    children: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    replicas = AuthReplicas([mesh.runtime.addresses["auth"]], [])
    # Where this process's servers listen (ports picked at start), e.g. the tenants service
    # a replica resolves tenants with.
    settings = dataclasses.replace(
        mesh.runtime.settings,
        service_addresses={**mesh.runtime.settings.service_addresses, **mesh.runtime.addresses},
    )
    try:
        for _ in range(count - 1):
            parent, child = ctx.Pipe()
            process: multiprocessing.process.BaseProcess = ctx.Process(
                target=_replica_main, args=(settings, child), name="bench-auth-replica", daemon=True
            )
            process.start()
            child.close()
            children.append((process, parent))
        for process, parent in children:  # started together, waited for in turn
            message = await _receive(parent, 120)
            if "error" in message:
                raise RuntimeError(f"auth replica failed: {message['error']}")
            replicas.addresses.append(message["address"])
            replicas.pids.append(int(process.pid or 0))
        yield replicas
    finally:
        for _, parent in children:
            with contextlib.suppress(OSError):
                parent.send("stop")
        for process, parent in children:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()
                process.join(5)
            parent.close()


@dataclass
class World:
    tenant_id: str
    tenant_slug: str
    emails: list[str]
    password: str
    admin_password: str
    setup_seconds: float = 0.0


async def populate(mesh: Platform, slug: str, users: int, password: str, admin_password: str) -> World:
    started = time.perf_counter()
    tenant = await mesh.create_tenant(slug)
    admin = (await mesh.login("platform", ADMIN_EMAIL, admin_password)).access_token
    metadata = (*bearer(admin), ("x-tenant-id", tenant.tenant_id))
    emails = [f"u{i:04d}@{slug}.bench.test" for i in range(users)]
    stub = mesh.admin_stub("UserService")
    gate = asyncio.Semaphore(8)

    async def create(email: str) -> None:
        async with gate:
            await stub.CreateUser(
                admin_pb.CreateUserRequest(user=user_pb2.User(email=email), password=password, roles=["member"]),
                metadata=metadata,
            )

    await asyncio.gather(*(create(email) for email in emails))
    return World(tenant.tenant_id, slug, emails, password, admin_password, time.perf_counter() - started)


# --------------------------------------------------------------------------- load clients (a child process)


@dataclass
class LoadResult:
    kind: str
    concurrency: int
    ok: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    client_cpu_s: float = 0.0
    service_cpu_s: float = 0.0
    loop_cpu_s: float = 0.0  # this process's event loop thread only
    replicas: int = 1
    db_cpu_s: float = 0.0
    sql: SqlCounts = field(default_factory=SqlCounts)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def _load_main(spec: dict[str, Any], pipe: Connection) -> None:
    """Child process: runs the clients, reports plain types (the parent may not import this as __main__)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops this process
    try:
        pipe.send(asyncio.run(_drive(spec, pipe)))
    except BaseException as exc:  # reported to the parent, which raises it
        with contextlib.suppress(OSError):
            pipe.send({"error": repr(exc)})
    finally:
        pipe.close()


async def _drive(spec: dict[str, Any], pipe: Connection) -> dict[str, Any]:
    concurrency: int = spec["concurrency"]
    # Connections spread evenly over the replicas, as a balancer in front of them would.
    addresses: list[str] = spec["addresses"]
    channels = [grpc.aio.insecure_channel(addresses[i % len(addresses)]) for i in range(concurrency)]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    try:
        for channel in channels:
            await asyncio.wait_for(channel.channel_ready(), 10)
        pipe.send("ready")
        await asyncio.to_thread(pipe.recv)  # the parent starts its CPU meters, then says go
        cpu_before = os.times()
        started = time.perf_counter()
        deadline = started + spec["seconds"]

        def failed(exc: grpc.aio.AioRpcError) -> None:
            key = f"{exc.code().name}: {exc.details()}"[:120]
            errors[key] = errors.get(key, 0) + 1

        async def login_client(index: int, channel: grpc.aio.Channel) -> None:
            stub: Any = auth_service_pb2_grpc.AuthServiceStub(channel)
            emails: list[str] = spec["emails"]
            turn = index
            while time.perf_counter() < deadline:
                request = auth_pb.LoginRequest(
                    tenant=spec["tenant"], email=emails[turn % len(emails)], password=spec["password"]
                )
                turn += concurrency
                t0 = time.perf_counter()
                try:
                    await stub.Login(request, timeout=60)
                except grpc.aio.AioRpcError as exc:
                    failed(exc)
                else:
                    latencies.append(time.perf_counter() - t0)

        async def refresh_client(index: int, channel: grpc.aio.Channel) -> None:
            stub: Any = auth_service_pb2_grpc.AuthServiceStub(channel)
            token: str = spec["refresh_tokens"][index]
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await stub.Refresh(auth_pb.RefreshRequest(refresh_token=token), timeout=60)
                except grpc.aio.AioRpcError as exc:
                    failed(exc)  # the session is now unusable (a retry would be a reuse): this client stops
                    return
                latencies.append(time.perf_counter() - t0)
                token = response.tokens.refresh_token

        client = login_client if spec["kind"] == "login" else refresh_client
        await asyncio.gather(*(client(i, channel) for i, channel in enumerate(channels)))
        seconds = time.perf_counter() - started
        cpu_after = os.times()
        return {
            "ok": len(latencies),
            "seconds": seconds,
            "latencies": latencies,
            "errors": errors,
            "client_cpu_s": (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        }
    finally:
        for channel in channels:
            await channel.close()


async def run_load(spec: dict[str, Any], replicas: AuthReplicas) -> LoadResult:
    """Runs the clients in a separate process (as real callers would be) while the replicas serve."""
    spec = {**spec, "addresses": replicas.addresses}
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_load_main, args=(spec, child), name=f"bench-{spec['kind']}", daemon=True)
    process.start()
    child.close()
    result = LoadResult(kind=spec["kind"], concurrency=spec["concurrency"], replicas=len(replicas.addresses))
    meter = CpuMeter(replicas.pids)
    finished = False
    try:
        message = await _receive(parent, 60)
        if message != "ready":
            raise RuntimeError(f"load process failed to start: {message}")
        meter.restart()
        sql_before = await SQL.snapshot()
        parent.send("go")
        data = await _receive(parent, spec["seconds"] + 120)
        result.service_cpu_s, result.loop_cpu_s, result.db_cpu_s = meter.used()
        result.sql = (await SQL.snapshot()).minus(sql_before)
        if "error" in data:
            raise RuntimeError(f"load process failed: {data['error']}")
        result.ok, result.seconds, result.latencies = data["ok"], data["seconds"], data["latencies"]
        result.errors, result.client_cpu_s = data["errors"], data["client_cpu_s"]
        finished = True
        return result
    finally:
        parent.close()
        process.join(5 if finished else 0)
        if process.is_alive():
            process.kill()
            process.join(5)


async def _receive(pipe: Connection, limit_s: float) -> Any:
    deadline = time.monotonic() + limit_s
    while not pipe.poll():  # polled, not blocking: this loop keeps serving the RPCs meanwhile
        if time.monotonic() > deadline:
            raise TimeoutError("no answer from the load process")
        await asyncio.sleep(0.02)
    return pipe.recv()


def _progress(result: LoadResult, label: str) -> None:
    print(
        f"    {label} x{result.concurrency:<3d} {result.rate:8.1f}/s  p50 {result.p50_ms:7.1f} ms  "
        f"p99 {result.p99_ms:7.1f} ms  failed {result.failed}",
        file=sys.stderr,
        flush=True,
    )


async def measure_logins(args: argparse.Namespace, replicas: AuthReplicas, world: World) -> list[LoadResult]:
    base = {"kind": "login", "tenant": world.tenant_slug, "password": world.password, "emails": world.emails}
    # Warm-up: pool connections, caches, the directory's tenant entry (on every replica).
    await run_load({**base, "concurrency": 4 * len(replicas.addresses), "seconds": args.warmup}, replicas)
    results = []
    for concurrency in args.login_concurrency:
        result = await run_load({**base, "concurrency": concurrency, "seconds": args.seconds}, replicas)
        _progress(result, "logins   ")
        results.append(result)
    return results


async def measure_refreshes(
    args: argparse.Namespace, mesh: Platform, replicas: AuthReplicas, world: World
) -> list[LoadResult]:
    results = []
    for concurrency in args.refresh_concurrency:
        # One session per client, spread over the users, logged in beforehand (not timed).
        sessions = [
            await mesh.login(world.tenant_slug, world.emails[i % len(world.emails)], world.password)
            for i in range(concurrency)
        ]
        spec = {
            "kind": "refresh",
            "concurrency": concurrency,
            "seconds": args.seconds,
            "refresh_tokens": [s.refresh_token for s in sessions],
        }
        result = await run_load(spec, replicas)
        _progress(result, "refreshes")
        results.append(result)
    return results


@dataclass
class Argon2Calibration:
    sequential_ms: float  # CPU of one verification, one thread
    parallel_per_s: float  # verifications/s with one thread per vCPU
    parallel_cpu: float  # cores busy meanwhile (< threads: other work on the machine took the rest)
    threads: int


def argon2_calibration(rounds: int = 20) -> Argon2Calibration:
    """argon2id verification at the configured parameters: one thread, then one per vCPU, nothing else running."""
    hasher: PasswordHasher = passwords.HASHER
    stored = hasher.hash("calibration-password-1")

    def verify(_: int) -> None:
        hasher.verify(stored, "calibration-password-1")

    started = time.thread_time()  # CPU, not wall time: other work on the machine does not inflate it
    for i in range(rounds):
        verify(i)
    sequential = (time.thread_time() - started) / rounds
    threads = usable_cpus()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        started, cpu = time.perf_counter(), time.process_time()
        list(pool.map(verify, range(rounds * threads)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Argon2Calibration(sequential * 1000, rounds * threads / wall, cpu / wall, threads)


# --------------------------------------------------------------------------- through Envoy


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    # Which token to send: "" none, "member" (tenant member), "admin" (platform admin).
    token: str


@dataclass
class EdgeRun:
    endpoints: list[Endpoint]
    rounds: dict[str, list[WrkResult]] = field(default_factory=dict)
    sql: dict[str, list[SqlCounts]] = field(default_factory=dict)  # per round, as rounds
    envoy_jwt: bool = False
    jwt_stats: dict[str, int] = field(default_factory=dict)

    def best(self, key: str) -> tuple[WrkResult, SqlCounts]:
        """The round with the highest req/s: on a shared machine the slower rounds are the disturbed ones."""
        result = best_round(self.rounds[key])
        return result, self.sql[key][self.rounds[key].index(result)]


async def fetch(url: str, ca: Path, headers: dict[str, str]) -> tuple[int, str]:
    """One GET with certificate verification; (status, body)."""

    def get() -> tuple[int, str]:
        context = ssl.create_default_context(cafile=str(ca))
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                return int(response.status), str(response.read().decode())
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode(errors="replace")

    return await asyncio.to_thread(get)


async def measure_edge(args: argparse.Namespace, mesh: Platform, world: World, tls: DevTls, workdir: Path) -> EdgeRun:
    endpoints = [
        Endpoint("public", f"public GET {PUBLIC_PATH}, no token", PUBLIC_PATH, ""),
        Endpoint("me", f"auth   GET {ME_PATH} (GetMe, member token)", ME_PATH, "member"),
        Endpoint(
            "tenant",
            "auth   GET /v1/tenants/{id} (GetTenant cached, admin token)",
            f"/v1/tenants/{world.tenant_id}",
            "admin",
        ),
        Endpoint("public_token", f"public GET {PUBLIC_PATH} + member token", PUBLIC_PATH, "member"),
    ]
    run = EdgeRun(endpoints, {e.key: [] for e in endpoints}, {e.key: [] for e in endpoints})
    envoy_dir = workdir / "envoy"
    async with running_envoy(mesh.started, mesh.runtime.settings, tls, envoy_dir, args.workers) as (envoy, edge):
        rendered = await asyncio.to_thread((workdir / "envoy" / "envoy.yaml").read_text)
        run.envoy_jwt = "envoy.filters.http.jwt_authn" in rendered
        base = f"https://127.0.0.1:{edge.https_port}"

        async def tokens() -> dict[str, str]:
            # Fresh tokens each round: access tokens live 15 minutes by default.
            member = await mesh.login(world.tenant_slug, world.emails[0], world.password)
            admin = await mesh.login("platform", ADMIN_EMAIL, world.admin_password)
            return {"": "", "member": member.access_token, "admin": admin.access_token}

        def headers(endpoint: Endpoint, issued: dict[str, str]) -> dict[str, str]:
            return {"authorization": f"Bearer {issued[endpoint.token]}"} if endpoint.token else {}

        issued = await tokens()
        # The edge fetches the JWKS asynchronously after start: wait until a token passes.
        deadline = time.monotonic() + 20
        for endpoint in endpoints:
            while True:
                status, body = await fetch(base + endpoint.path, tls.ca_cert, headers(endpoint, issued))
                if status == 200:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"GET {endpoint.path} answered {status}: {body[:300]}")
                await asyncio.sleep(0.5)
        if run.envoy_jwt:
            status, _ = await fetch(base + ME_PATH, tls.ca_cert, {})
            print(f"  edge check: GET {ME_PATH} without a token -> {status}", file=sys.stderr, flush=True)
        print("  edge: warming up", file=sys.stderr, flush=True)
        for endpoint in endpoints:
            await wrk_round(base + endpoint.path, headers(endpoint, issued), args, envoy, args.warmup)
        for index in range(args.rounds):
            issued = await tokens()
            for endpoint in endpoints:
                sql_before = await SQL.snapshot()
                result = await wrk_round(base + endpoint.path, headers(endpoint, issued), args, envoy, args.seconds)
                run.rounds[endpoint.key].append(result)
                run.sql[endpoint.key].append((await SQL.snapshot()).minus(sql_before))
                print(
                    f"    round {index + 1} {endpoint.key:12s} {result.requests_per_s:8.0f} req/s  "
                    f"p50 {result.p50:6.2f} ms  p99 {result.p99:6.2f} ms  errors {result.errors}  "
                    f"service CPU {_cpu_per_request(result):.2f} ms/req",
                    file=sys.stderr,
                    flush=True,
                )
        status, body = await envoy.admin_get("/stats?filter=jwt_authn")
        if status == 200:
            for line in body.splitlines():
                name, _, value = line.partition(": ")
                if value.strip().isdigit():
                    run.jwt_stats[name.strip()] = int(value)
    return run


def _cpu_per_request(result: WrkResult) -> float:
    return 1000 * result.cpu_s.get("service", 0.0) / result.requests if result.requests else float("nan")


# --------------------------------------------------------------------------- report


def best_load(results: Sequence[LoadResult]) -> LoadResult:
    return max(results, key=lambda r: r.rate)


def _load_rows(results: Sequence[LoadResult], unit: str) -> list[tuple[str, str]]:
    rows = []
    for r in results:
        per_op = 1000 / r.ok if r.ok else float("nan")
        rows.append(
            (
                f"{r.concurrency} clients",
                f"{r.rate:7.1f} {unit}/s  p50 {r.p50_ms:6.1f} ms  p99 {r.p99_ms:6.1f} ms  ({r.ok} ok, "
                f"{r.failed} failed, {r.seconds:.1f} s)",
            )
        )
        rows.append(
            (
                "  CPU per op (% of one core)",
                f"service {r.service_cpu_s * per_op:.1f} ms ({100 * r.service_cpu_s / r.seconds:.0f}% in "
                f"{r.replicas} process{'es' if r.replicas > 1 else ''}; the first's event loop thread "
                f"{100 * r.loop_cpu_s / r.seconds:.0f}% busy), "
                f"mariadbd {r.db_cpu_s * per_op:.1f} ms ({100 * r.db_cpu_s / r.seconds:.0f}%), "
                f"clients {r.client_cpu_s * per_op:.1f} ms ({100 * r.client_cpu_s / r.seconds:.0f}%)",
            )
        )
        rows.append(("  database", r.sql.per(r.ok)))
        for error, count in sorted(r.errors.items()):
            rows.append(("  error", f"{count} x {error}"))
    return rows


def _per_service_core(result: LoadResult, anchor: float) -> str:
    """Keycloak's sizing counts the Keycloak pods' vCPUs only (the database runs elsewhere): the same lens."""
    cores = result.service_cpu_s / result.seconds if result.seconds else 0.0
    rate = result.rate / cores if cores else 0.0
    return (
        f"{rate:.1f}/s per core of service CPU ({cores:.2f} cores busy) = {rate / anchor:.2f}x anchor (not the target)"
    )


def _edge_row(result: WrkResult) -> str:
    return (
        f"{result.requests_per_s:7.0f} req/s  p50 {result.p50:6.2f} ms  p99 {result.p99:6.2f} ms  "
        f"errors {result.errors}"
    )


def report(
    args: argparse.Namespace,
    backend: str,
    world: World,
    argon2: Argon2Calibration,
    logins: Sequence[LoadResult],
    refreshes: Sequence[LoadResult],
    edge: EdgeRun | None,
) -> None:
    n = usable_cpus()
    print()
    print(f"== bench_auth  {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"   {host.node()}  {host.machine()}  {n} vCPU  Python {host.python_version()}")
    print(f"   {load_note()}; now {os.getloadavg()[0]:.2f} (1 min)")
    print(f"   tenants + auth in-process on {backend}; clients in a separate process; everything on this machine")
    if args.replicas > 1:
        print(
            f"   logins and refreshes: {args.replicas} auth replicas (this process's and {args.replicas - 1} "
            f"in processes of their own), events through Redis {args.redis_url}; service CPU counts them all"
        )
    hasher = passwords.HASHER
    print(
        f"   argon2id t={hasher.time_cost} m={hasher.memory_cost} KiB p={hasher.parallelism}: "
        f"{argon2.sequential_ms:.1f} ms of CPU per verification (one thread), {argon2.parallel_per_s:.1f}/s on "
        f"{argon2.threads} threads using {argon2.parallel_cpu:.2f} cores (measured before the run); "
        f"service hashing pool {passwords.hashing_threads()} thread{'s' if passwords.hashing_threads() != 1 else ''}"
        + (" per replica" if args.replicas > 1 else "")
    )
    print(
        f"   setup: tenant {world.tenant_slug}, {len(world.emails)} users created through the API "
        f"in {world.setup_seconds:.1f} s"
    )
    targets: list[tuple[str, str]] = []

    print()
    print(f"-- Password logins (AuthService.Login over gRPC to the auth server, {args.seconds:g} s per level)")
    print_table(_load_rows(logins, "logins"))
    if logins:
        best = best_load(logins)
        per_vcpu = best.rate / n
        target = KEYCLOAK_LOGINS_PER_VCPU * TARGET_LOGIN_FACTOR
        print_table(
            [
                ("best", f"{best.rate:.1f} logins/s with {best.concurrency} clients = {per_vcpu:.1f} per vCPU"),
                (
                    "vs Keycloak anchor",
                    f"{per_vcpu / KEYCLOAK_LOGINS_PER_VCPU:.2f}x ({KEYCLOAK_LOGINS_PER_VCPU:g}/s per vCPU)",
                ),
                ("per core the service used", _per_service_core(best, KEYCLOAK_LOGINS_PER_VCPU)),
                (
                    "argon2 alone",
                    f"{argon2.parallel_per_s:.1f} verifications/s on {argon2.threads} threads (calibration); "
                    f"{argon2.sequential_ms:.1f} ms of the service's {best.service_cpu_s * 1000 / max(best.ok, 1):.1f} "
                    "ms CPU per login",
                ),
            ]
        )
        targets.append(
            (
                f"logins >= {TARGET_LOGIN_FACTOR:g}x Keycloak ({target:g}/s per vCPU)",
                f"{per_vcpu:.1f}/s per vCPU ({per_vcpu / KEYCLOAK_LOGINS_PER_VCPU:.2f}x)  "
                f"{verdict(per_vcpu >= target)}; argon2id alone allows {argon2.parallel_per_s / n:.1f} on this "
                "machine now (calibration)",
            )
        )

    print()
    print(
        f"-- Refreshes (AuthService.Refresh, each client its own session, newest token; {args.seconds:g} s per level)"
    )
    print_table(_load_rows(refreshes, "refreshes"))
    if refreshes:
        best = best_load(refreshes)
        per_vcpu = best.rate / n
        target = KEYCLOAK_REFRESHES_PER_VCPU * TARGET_REFRESH_FACTOR
        print_table(
            [
                ("best", f"{best.rate:.1f} refreshes/s with {best.concurrency} clients = {per_vcpu:.1f} per vCPU"),
                (
                    "vs Keycloak anchor",
                    f"{per_vcpu / KEYCLOAK_REFRESHES_PER_VCPU:.2f}x ({KEYCLOAK_REFRESHES_PER_VCPU:g}/s per vCPU)",
                ),
                ("per core the service used", _per_service_core(best, KEYCLOAK_REFRESHES_PER_VCPU)),
            ]
        )
        targets.append(
            (
                f"refreshes >= {TARGET_REFRESH_FACTOR:g}x Keycloak ({target:g}/s per vCPU)",
                f"{per_vcpu:.1f}/s per vCPU ({per_vcpu / KEYCLOAK_REFRESHES_PER_VCPU:.2f}x)  "
                f"{verdict(per_vcpu >= target)}",
            )
        )

    if edge is not None:
        print()
        print(
            f"-- Through Envoy (wrk HTTP/1.1 over TLS, {args.connections} connections, {args.threads} threads, "
            f"{args.seconds:g} s x {args.rounds} rounds alternating; best round; Envoy --concurrency {args.workers})"
        )
        print(
            "   edge JWT verification (jwt_authn): "
            + ("on (public routes exempt)" if edge.envoy_jwt else "NOT in the Envoy config: only the services verify")
        )
        top = {e.key: edge.best(e.key) for e in edge.endpoints}
        rows = [(e.label, _edge_row(top[e.key][0])) for e in edge.endpoints]
        rows.append(
            (
                "all rounds req/s",
                " | ".join(
                    f"{key} " + " ".join(f"{r.requests_per_s:.0f}" for r in results)
                    for key, results in edge.rounds.items()
                ),
            )
        )
        for e in edge.endpoints:
            result, sql = top[e.key]
            seconds = result.seconds or 1.0
            per_request = {
                k: f"{k} {100 * v / seconds:.0f}% ({1000 * v / max(result.requests, 1):.2f} ms/req)"
                for k, v in result.cpu_s.items()
            }
            rows.append((f"  CPU {e.key} (% of one core)", ", ".join(per_request.values())))
            rows.append((f"  database {e.key}", sql.per(result.requests)))
        jwt = {k.rsplit(".", 1)[-1]: v for k, v in edge.jwt_stats.items() if v}
        if jwt:
            rows.append(("Envoy jwt_authn counters", ", ".join(f"{k} {v}" for k, v in sorted(jwt.items()))))
        public = top["public"][0].requests_per_s
        ratios = {
            key: top[key][0].requests_per_s / public if public else 0.0 for key in ("me", "tenant", "public_token")
        }
        for key, what in (
            ("me", "GetMe (the user's profile: a cached database read, not the trivial one)"),
            ("tenant", "GetTenant (cached; the authenticated trivial RPC)"),
            ("public_token", "public + token"),
        ):
            rows.append((f"ratio {what} / public", f"{ratios[key]:.2f}"))
        print_table(rows)
        targets.append(
            (
                f"authenticated/unauthenticated trivial RPC >= {TARGET_AUTH_RATIO} (GetTenant cached vs public)",
                f"{ratios['tenant']:.2f}  {verdict(ratios['tenant'] >= TARGET_AUTH_RATIO)}",
            )
        )

    print()
    print(f"-- Targets ({load_note()})")
    print_table(targets)


# --------------------------------------------------------------------------- main


@dataclass(frozen=True)
class RunNames:
    run_id: str
    base: str

    @property
    def core_db(self) -> str:
        return f"{self.base}_auth_{self.run_id}"

    @property
    def tenant_slug(self) -> str:
        return f"auth-{self.run_id}"

    @property
    def tenant_db(self) -> str:
        return f"tenant_auth_{self.run_id}"


async def run(args: argparse.Namespace, server: Server, names: RunNames, workdir: Path) -> None:
    # SIGTERM cancels the run like Ctrl-C does (asyncio.run's own SIGINT handling): at an await,
    # never as an exception raised inside gRPC's server machinery (that can crash the process).
    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    version = str((await fetch_all(server, "SELECT VERSION()"))[0][0])
    backend = f"MariaDB {version} {server.address} (core db {names.core_db})"
    print(f"bench_auth: run {names.run_id}, {backend}", file=sys.stderr, flush=True)
    argon2 = argon2_calibration()
    await SQL.open(server)
    try:
        admin_password = ADMIN_PASSWORD  # what Platform.create_tenant logs in with
        # One replica alone keeps its events in process, as the embedded default does. Several
        # share the machine's CPUs, so each hashes passwords on its share of them, as an
        # operator running several replicas on one host would configure them.
        replicas_only: dict[str, str] = {}
        if args.replicas > 1:
            replicas_only = {
                "REDIS_URL": args.redis_url,
                "TENANTMESH_AUTH_HASHING_THREADS": str(max(1, usable_cpus() // args.replicas)),
            }
        settings = bench_settings(
            server.url(names.core_db),
            workdir / "data",
            TENANTMESH_ADMIN_EMAIL=ADMIN_EMAIL,
            TENANTMESH_ADMIN_PASSWORD=admin_password,
            TENANTMESH_RECONCILE_INTERVAL_SECONDS="3600",
            **replicas_only,
        )
        tls = ensure_dev_tls(workdir / "tls")
        async with auth_platform(settings) as mesh:
            print(f"  creating tenant {names.tenant_slug} and {args.users} users", file=sys.stderr, flush=True)
            world = await populate(mesh, names.tenant_slug, args.users, f"bench-{secrets.token_hex(8)}", admin_password)
            logins: list[LoadResult] = []
            refreshes: list[LoadResult] = []
            edge = None
            async with auth_replicas(mesh, args.replicas) as replicas:
                if "logins" in args.parts:
                    print(f"  logins ({args.replicas} auth replicas)", file=sys.stderr, flush=True)
                    logins = await measure_logins(args, replicas, world)
                if "refreshes" in args.parts:
                    print(f"  refreshes ({args.replicas} auth replicas)", file=sys.stderr, flush=True)
                    refreshes = await measure_refreshes(args, mesh, replicas, world)
            if "edge" in args.parts:
                print("  through Envoy", file=sys.stderr, flush=True)
                edge = await measure_edge(args, mesh, world, tls, workdir)
    finally:
        SQL.close()
    report(args, backend, world, argon2, logins, refreshes, edge)


def _levels(value: str) -> list[int]:
    levels = [int(x) for x in value.split(",") if x.strip()]
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("positive integers, comma-separated")
    return levels


PARTS = ("logins", "refreshes", "edge")


def _parts(value: str) -> tuple[str, ...]:
    parts = tuple(x.strip() for x in value.split(",") if x.strip())
    if not parts or any(p not in PARTS for p in parts):
        raise argparse.ArgumentTypeError(f"comma-separated, out of {', '.join(PARTS)}")
    return parts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_auth", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--users", type=int, default=50, help="users created in the bench tenant (default 50)")
    parser.add_argument("--login-concurrency", type=_levels, default=[4, 16], help="login clients (default 4,16)")
    parser.add_argument("--refresh-concurrency", type=_levels, default=[4, 16], help="refresh clients (default 4,16)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="wrk rounds per endpoint, alternating (default 2)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="Envoy worker threads (default 1)")
    parser.add_argument(
        "--parts",
        type=_parts,
        default=PARTS,
        help="what to measure, comma-separated (default logins,refreshes,edge; edge needs wrk)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=usable_cpus(),
        help="auth servers for logins and refreshes, each a process of its own (default: one per vCPU)",
    )
    parser.add_argument("--mysql-url", default=DEFAULT_URL, help=f"server and core db name prefix ({DEFAULT_URL})")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help=f"events between replicas ({DEFAULT_REDIS_URL})")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.users < 1 or args.rounds < 1 or args.workers < 1 or args.replicas < 1:
        parser.error("--seconds, --users, --rounds, --workers and --replicas must be positive")
    if args.threads < 1 or args.connections < args.threads:
        parser.error("need --threads >= 1 and --connections >= --threads")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "edge" in args.parts and shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (or `make bench-auth`)", file=sys.stderr)
        return 2
    server = Server.from_url(args.mysql_url)
    names = RunNames(run_id=secrets.token_hex(3), base=server.database)
    workdir = Path(tempfile.mkdtemp(prefix="tm-bench-auth-"))
    quiet_driver_notes()
    # wrk's stop resets in-flight streams; the cancelled handlers' session cleanup is then
    # logged by SQLAlchemy's pool as an ERROR with a traceback each (see docs/benchmarks.md).
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    started = time.monotonic()
    try:
        # The loop the service processes run on (services/runtime/loop.py), so the numbers are theirs.
        run_on_service_loop(run(args, server, names, workdir))
        return 0
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        # A fresh loop: the run's loop may have died with the interrupt.
        dropped = asyncio.run(drop_databases(server, [names.core_db, names.tenant_db], []))
        print(f"  cleanup: dropped {dropped} databases", file=sys.stderr, flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
