"""Benchmark: menus — GetMyMenu through Envoy vs a trivial RPC, the uncached cost, and freshness across processes.

    python -m tests.bench.bench_menus [--mysql-url URL] [--redis-url URL] [--users 1000] [--seconds 8]
        [--rounds 2] [--changes 20]

Runs tenants + auth + registry + forms + menus in this process on MariaDB and Redis (token
authentication, real servers), with one tenant holding 15 enabled services that contribute 300
menu entries, 40 overrides, 30 custom roles and ``--users`` users. Then:

1. Through a real Envoy (TLS, Envoy --concurrency 1), ``wrk`` alternates the public
   ``GET /v1/meta/server-info`` with ``GET /v1/my-menu`` as a member holding one of the roles
   (the menu is cached after the first call; JSON the menus service rendered once) and
   ``GET /v1/my-menu:typed`` (the same document printed by the edge from the typed answer on
   every call, as ``/v1/my-menu`` was served before); best round of each, and the ratios.
2. The uncached cost, straight to the menus server over gRPC: a whole rebuild (the tenant's model
   dropped: its database, the registry and the forms service read again), a rebuild after an
   override (the tenant's database read again) and a menu for a new permission set or locale on
   the cached model (the tree cut and localised).
3. Freshness in another process: a second menus server runs as its own process
   (``python -m services.mesh serve menus``, same database and Redis). ``--changes`` times a
   custom role loses a permission; measured from the UpdateRole call until that process stops
   serving the old menu to the role's member (their token refused; the next token carries the
   new permissions); and an override changed through the first menus server until the other
   one serves the new label.

Prints numbers; asserts nothing. Every database it creates is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2
from tenantmesh.auth.v1 import admin_service_pb2, user_pb2
from tenantmesh.menus.v1 import menu_pb2
from tenantmesh.menus.v1 import menu_service_pb2 as pb
from tenantmesh.menus.v1 import menu_service_pb2_grpc as pb_grpc
from tenantmesh.registry.v1 import service_pb2

from services.mesh.devtls import ensure_dev_tls
from services.runtime.heap import settle_after_startup
from tests.bench.common import (
    WrkTarget,
    add_parts_argument,
    add_wrk_arguments,
    alternate_rounds,
    bench_main,
    check_parts_argument,
    check_wrk_arguments,
    load_note,
    percentile,
    print_header,
    print_table,
    quiet_driver_notes,
    verdict,
)
from tests.bench.edge_tools import WrkResult, best_round, running_envoy
from tests.bench.mariadb import Server, drop_databases
from tests.support.menus import PASSWORD, MenusWorld, menus_world
from tests.support.mesh import mesh_environment
from tests.support.platform import bearer
from tests.support.ports import free_port
from tests.support.processes import ProcessMesh

PUBLIC_PATH = "/v1/meta/server-info"
MENU_PATH = "/v1/my-menu"
TYPED_PATH = "/v1/my-menu:typed"
TARGET_RATIO = 0.7
TARGET_FRESH_P99_MS = 1000.0
SERVICES, ENTRIES_PER_SERVICE, OVERRIDES, ROLES = 15, 20, 40, 30
# Platform permissions custom roles are made of (each role: menus.my_menu.get and a few of these).
ROLE_PERMISSIONS = (
    "auth.users.list",
    "auth.roles.list",
    "auth.audit.list",
    "auth.service_accounts.list",
    "registry.available_services.list",
    "forms.forms.create",
    "forms.submissions.list",
    "menus.entries.list",
)
QUIET_ENV = {
    "TENANTMESH_LOG_LEVEL": "warning",
    "TENANTMESH_DISCOVERY": "off",
    "TENANTMESH_REGISTRY_TICK_SECONDS": "1.0",
    "TENANTMESH_REGISTRY_HEALTH_INTERVAL_SECONDS": "10",
}


@dataclass
class Setup:
    tenant: str
    member_token: str
    services: list[str]
    setup_s: float


@dataclass
class Results:
    public: list[WrkResult] = field(default_factory=list)
    menu: list[WrkResult] = field(default_factory=list)
    typed: list[WrkResult] = field(default_factory=list)
    items: int = 0
    rebuild_ms: list[float] = field(default_factory=list)
    reload_ms: list[float] = field(default_factory=list)
    recut_ms: list[float] = field(default_factory=list)
    trivial_ms: list[float] = field(default_factory=list)
    role_ms: list[float] = field(default_factory=list)
    override_ms: list[float] = field(default_factory=list)
    stopped: str = ""


# --------------------------------------------------------------------------- the tenant


def service_with_entries(name: str) -> service_pb2.Service:
    """Four headings, each with four entries under it; every other entry needs the service's permission."""
    entries = []
    for index in range(ENTRIES_PER_SERVICE):
        heading = index < 4
        entries.append(
            service_pb2.MenuEntry(
                id=f"e{index:02d}",
                label=f"Entry {index}",
                label_translations={"id": f"Entri {index}"},
                route=f"/{name}/e{index:02d}",
                order=index,
                parent="" if heading else f"e{index % 4:02d}",
                required_permission="" if heading or index % 2 else f"{name}.things.read",
            )
        )
    return service_pb2.Service(
        name=name,
        kind=service_pb2.SERVICE_KIND_EXTERNAL_HTTP,
        permissions=[service_pb2.PermissionDefinition(name=f"{name}.things.read")],
        menu_entries=entries,
        versions=[service_pb2.ServiceVersion(version="1.0.0")],
    )


async def populate(world: MenusWorld, users: int, run_id: str) -> Setup:
    started = time.monotonic()
    tenant = await world.new_tenant("bench")
    admin = await world.person(tenant, "tenant-admin")
    services = [f"bench-{run_id}-{index:02d}" for index in range(SERVICES)]
    for name in services:
        await world.register(service_with_entries(name))
        await world.enable(tenant, name)
    menus = world.menus(admin.token, tenant)
    for index in range(OVERRIDES):
        key = f"service/{services[index % SERVICES]}/e{index // SERVICES:02d}"
        override = menu_pb2.MenuOverride(key=key, label=f"Renamed {index}", order=100 + index)
        await menus.SetMenuOverride(pb.SetMenuOverrideRequest(override=override))
    roles = world.mesh.admin_stub("RoleService")
    scoped = (*bearer(await world.admin_token()), ("x-tenant-id", tenant))
    for index in range(ROLES):
        chosen = [ROLE_PERMISSIONS[(index + k) % len(ROLE_PERMISSIONS)] for k in range(index % 4 + 1)]
        role = user_pb2.Role(name=f"role-{index:02d}", permissions=["menus.my_menu.get", *chosen])
        await roles.CreateRole(admin_service_pb2.CreateRoleRequest(role=role), metadata=scoped)
    users_stub = world.mesh.admin_stub("UserService")
    # One at a time: concurrent CreateUser calls can deadlock in auth's token table on MariaDB.
    for index in range(users):
        if index % 200 == 0:
            world.forget_admin_token()  # a long setup outlives an access token
            scoped = (*bearer(await world.admin_token()), ("x-tenant-id", tenant))
        user = user_pb2.User(email=f"user-{index:04d}@bench.test")
        held = f"role-{index % ROLES:02d}"
        request = admin_service_pb2.CreateUserRequest(user=user, password=PASSWORD, roles=[held])
        await _create_user(users_stub, request, scoped)
    member = await world.mesh.login(tenant, "user-0000@bench.test", PASSWORD)
    return Setup(tenant, member.access_token, services, time.monotonic() - started)


async def _create_user(stub: Any, request: Any, metadata: Any) -> None:
    """CreateUser, retried when a service it depends on was unavailable (a loaded machine); a retry
    that finds the user made by the first attempt is done."""
    for attempt in range(5):
        try:
            await stub.CreateUser(request, metadata=metadata)
            return
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.ALREADY_EXISTS and attempt:
                return
            if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == 4:
                raise
            await asyncio.sleep(1.0)


# --------------------------------------------------------------------------- measurements


async def measure_edge(args: argparse.Namespace, world: MenusWorld, setup: Setup, workdir: Path, out: Results) -> None:
    tls = ensure_dev_tls(workdir / "tls")
    member = {"authorization": f"Bearer {setup.member_token}", "x-tenant-id": setup.tenant}
    async with running_envoy(world.mesh.started, world.mesh.runtime.settings, tls, workdir / "envoy") as (envoy, edge):
        base = f"https://127.0.0.1:{edge.https_port}"
        targets = [
            WrkTarget("public", base + PUBLIC_PATH, envoy),
            WrkTarget("my-menu", base + MENU_PATH, envoy, member),
            WrkTarget("my-menu:typed", base + TYPED_PATH, envoy, member),
        ]
        await alternate_rounds(targets, args)
    out.public, out.menu, out.typed = (target.rounds for target in targets)


async def measure_uncached(world: MenusWorld, setup: Setup, samples: int, out: Results) -> None:
    stub: Any = pb_grpc.MenuServiceStub(world.mesh.channel("menus"))
    metadata = (*bearer(setup.member_token), ("x-tenant-id", setup.tenant))
    first = await stub.GetMyMenu(pb.GetMyMenuRequest(), metadata=metadata)
    out.items = _count(first.items)
    book = world.app.book
    for index in range(samples):
        await stub.GetMyMenu(pb.GetMyMenuRequest(), metadata=metadata)  # cached: the trivial path
        began = time.perf_counter()
        await stub.GetMyMenu(pb.GetMyMenuRequest(), metadata=metadata)
        out.trivial_ms.append(1000 * (time.perf_counter() - began))
        book.drop(setup.tenant)
        began = time.perf_counter()
        await stub.GetMyMenu(pb.GetMyMenuRequest(), metadata=metadata)
        out.rebuild_ms.append(1000 * (time.perf_counter() - began))
        book.drop(setup.tenant, sources=False)
        began = time.perf_counter()
        await stub.GetMyMenu(pb.GetMyMenuRequest(), metadata=metadata)
        out.reload_ms.append(1000 * (time.perf_counter() - began))
        # A locale nobody asked for yet: the model is cached, the menu is cut and localised anew.
        began = time.perf_counter()
        await stub.GetMyMenu(pb.GetMyMenuRequest(locale=f"id-b{index:04d}"), metadata=metadata)
        out.recut_ms.append(1000 * (time.perf_counter() - began))


def _count(items: Any) -> int:
    return sum(1 + _count(item.children) for item in items)


async def other_process(world: MenusWorld, args: argparse.Namespace, database_url: str, root: Path) -> ProcessMesh:
    runtime = world.mesh.runtime
    # The environment the in-process platform was configured from (its mesh TLS mode included:
    # plaintext), so the other process reaches its services as they serve; the process's own data
    # directory is set when it is spawned.
    env = mesh_environment(
        database_url,
        root,
        REDIS_URL=args.redis_url,
        TENANTMESH_TENANT_DB_PREFIX=runtime.db.tenant_db_prefix,
        TENANTMESH_SERVICE_API_KEY=runtime.service_api_key or "",
        **QUIET_ENV,
        **{
            f"TENANTMESH_{name.upper()}_ADDR": runtime.addresses[name]
            for name in ("tenants", "auth", "registry", "forms")
        },
    )
    if runtime.settings.mesh_tls is not None:
        raise RuntimeError("the other menus process joins a plaintext in-process platform only")
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    return ProcessMesh(base_env=env, root=root, addresses={"menus": f"127.0.0.1:{free_port()}"})


async def measure_freshness(
    world: MenusWorld, setup: Setup, changes: int, processes: ProcessMesh, out: Results
) -> None:
    second = await processes.start("menus")
    other: Any = pb_grpc.MenuServiceStub(second.channel)
    tenant = setup.tenant
    world.forget_admin_token()  # the setup may have outlived the first one
    scoped = (*bearer(await world.admin_token()), ("x-tenant-id", tenant))
    roles = world.mesh.admin_stub("RoleService")
    probe = user_pb2.Role(name="probe", permissions=["menus.my_menu.get", "auth.audit.list"])
    created = (await roles.CreateRole(admin_service_pb2.CreateRoleRequest(role=probe), metadata=scoped)).role
    person = await world.person(tenant, "probe")
    etag = created.etag
    mask = field_mask_pb2.FieldMask(paths=["permissions"])
    for _ in range(changes):
        token = (await world.login_again(tenant, person)).token
        await _until(_sees, other, token, tenant, "platform/audit")
        began = time.monotonic()
        less = user_pb2.Role(name="probe", permissions=["menus.my_menu.get"], etag=etag)
        etag = (
            await roles.UpdateRole(admin_service_pb2.UpdateRoleRequest(role=less, update_mask=mask), metadata=scoped)
        ).role.etag
        await _until(_refused, other, token, tenant)
        out.role_ms.append(1000 * (time.monotonic() - began))
        again = user_pb2.Role(name="probe", permissions=list(probe.permissions), etag=etag)
        etag = (
            await roles.UpdateRole(admin_service_pb2.UpdateRoleRequest(role=again, update_mask=mask), metadata=scoped)
        ).role.etag
        await asyncio.sleep(1.05)  # tokens issued within a revocation's second are refused too
    admin = await world.person(tenant, "tenant-admin")
    menus = world.menus(admin.token, tenant)
    for index in range(changes):
        label = f"Audit {index}"
        began = time.monotonic()
        await menus.SetMenuOverride(
            pb.SetMenuOverrideRequest(override=menu_pb2.MenuOverride(key="platform/audit", label=label))
        )
        await _until(_labelled, other, admin.token, tenant, "platform/audit", label)
        out.override_ms.append(1000 * (time.monotonic() - began))


async def _until(condition: Any, *args: Any, within: float = 10.0) -> None:
    """Polls ``condition(*args)`` every 2 ms until it holds."""
    deadline = time.monotonic() + within
    while not await condition(*args):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not reached within {within} s")
        await asyncio.sleep(0.002)


async def _menu(stub: Any, token: str, tenant: str) -> Any:
    return await stub.GetMyMenu(pb.GetMyMenuRequest(), metadata=(*bearer(token), ("x-tenant-id", tenant)))


async def _sees(stub: Any, token: str, tenant: str, key: str) -> bool:
    return _find((await _menu(stub, token, tenant)).items, key) is not None


async def _labelled(stub: Any, token: str, tenant: str, key: str, label: str) -> bool:
    found = _find((await _menu(stub, token, tenant)).items, key)
    return found is not None and found.label == label


async def _refused(stub: Any, token: str, tenant: str) -> bool:
    try:
        await _menu(stub, token, tenant)
    except grpc.aio.AioRpcError as error:
        return error.code() == grpc.StatusCode.UNAUTHENTICATED
    return False


def _find(items: Any, key: str) -> Any:
    for item in items:
        if item.key == key:
            return item
        found = _find(item.children, key)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- report


def _row(result: WrkResult) -> str:
    seconds = result.seconds or 1.0
    cpu = ", ".join(f"{k} {100 * v / seconds:.0f}%" for k, v in result.cpu_s.items())
    # CPU time per request compares the two sides even when the shared machine slows a round down.
    calls = result.requests or 1
    per_call = ", ".join(f"{k} {1e6 * result.cpu_s.get(k, 0.0) / calls:.0f}" for k in ("service", "envoy"))
    return (
        f"{result.requests_per_s:7.0f} req/s  p50 {result.p50:6.2f} ms  p99 {result.p99:6.2f} ms  "
        f"errors {result.errors}  (CPU {cpu}; per call us: {per_call})"
    )


def _spread(values: list[float]) -> str:
    top = max(values, default=float("nan"))
    return (
        f"p50 {percentile(values, 50):7.2f} ms  p99 {percentile(values, 99):7.2f} ms  max {top:7.2f} ms  "
        f"(n={len(values)})"
    )


def report(args: argparse.Namespace, setup: Setup, out: Results) -> None:
    print_header("bench_menus", load_now_too=True)
    print(
        f"   tenants + auth + registry + forms + menus in-process on MariaDB + Redis; one tenant: {SERVICES} services "
        f"enabled with {SERVICES * ENTRIES_PER_SERVICE} entries, {OVERRIDES} overrides, {ROLES} roles, "
        f"{args.users} users (set up in {setup.setup_s:.0f} s); the member's menu has {out.items} items"
    )
    targets: list[tuple[str, str]] = []
    if out.public and out.menu:
        public, menu, typed = best_round(out.public), best_round(out.menu), best_round(out.typed)
        ratio = menu.requests_per_s / public.requests_per_s if public.requests_per_s else 0.0
        typed_ratio = typed.requests_per_s / public.requests_per_s if public.requests_per_s else 0.0
        print()
        print(
            f"-- Through Envoy (wrk HTTP/1.1 over TLS, {args.connections} connections, {args.threads} threads, "
            f"{args.seconds:g} s x {args.rounds} rounds alternating; best round; Envoy --concurrency 1)"
        )
        print_table(
            [
                (f"public  GET {PUBLIC_PATH}", _row(public)),
                (f"my-menu GET {MENU_PATH} (a member, cached)", _row(menu)),
                (f"typed   GET {TYPED_PATH} (printed by the edge)", _row(typed)),
                ("ratio my-menu/public", f"{ratio:.2f}"),
                ("ratio typed/public", f"{typed_ratio:.2f}"),
            ]
        )
        targets.append(
            (f"GetMyMenu (cached)/trivial >= {TARGET_RATIO}", f"{ratio:.2f}  {verdict(ratio >= TARGET_RATIO)}")
        )
    if out.rebuild_ms:
        print()
        print("-- Uncached, one call at a time straight to the menus server (native gRPC, one connection)")
        print_table(
            [
                ("cached GetMyMenu", _spread(out.trivial_ms)),
                ("whole rebuild (model dropped: tenant DB, registry, forms read again)", _spread(out.rebuild_ms)),
                ("after an override (tenant DB read again, contributions cached)", _spread(out.reload_ms)),
                ("new permission set / locale (model cached: cut and localised)", _spread(out.recut_ms)),
            ]
        )
    if out.stopped:
        print()
        print(f"-- Freshness measurement stopped early: {out.stopped}")
    if out.role_ms and out.override_ms:
        role_p99, override_p99 = percentile(out.role_ms, 99), percentile(out.override_ms, 99)
        print()
        print("-- Freshness in another process (a second menus server as its own OS process, same MariaDB and Redis)")
        print_table(
            [
                ("role loses a permission -> old menu no longer served there", _spread(out.role_ms)),
                ("override set on the first server -> new label served there", _spread(out.override_ms)),
            ]
        )
        targets.append(
            (
                f"role change -> new menu elsewhere, p99 <= {TARGET_FRESH_P99_MS:g} ms",
                f"{role_p99:.0f} ms  {verdict(role_p99 <= TARGET_FRESH_P99_MS)}",
            )
        )
        targets.append(
            (
                f"override -> new menu elsewhere, p99 <= {TARGET_FRESH_P99_MS:g} ms",
                f"{override_p99:.0f} ms  {verdict(override_p99 <= TARGET_FRESH_P99_MS)}",
            )
        )
    print()
    print(f"-- Targets ({load_note()}; now {os.getloadavg()[0]:.2f} (1 min))")
    print_table(targets)


# --------------------------------------------------------------------------- main


async def run(args: argparse.Namespace, workdir: Path) -> None:
    main_task = asyncio.current_task()
    if main_task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    server = Server.from_url(args.mysql_url)
    run_id = secrets.token_hex(3)
    core, prefix = f"{server.database}_menus_{run_id}", f"tmb{run_id}_"
    conn = await server.connect(autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{core}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    database_url = server.url(core)
    env = {**QUIET_ENV, "REDIS_URL": args.redis_url, "TENANTMESH_TENANT_DB_PREFIX": prefix}
    processes: ProcessMesh | None = None
    try:
        async with menus_world(database_url, workdir / "data", env) as world:
            settle_after_startup()
            quiet_driver_notes()
            logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
            setup = await populate(world, args.users, run_id)
            print(f"bench_menus: tenant ready in {setup.setup_s:.0f} s", file=sys.stderr, flush=True)
            out = Results()
            if "edge" in args.parts:
                await measure_edge(args, world, setup, workdir, out)
            await measure_uncached(world, setup, args.samples, out)
            if "fresh" in args.parts:
                processes = await other_process(world, args, database_url, workdir / "processes")
                try:
                    await measure_freshness(world, setup, args.changes, processes, out)
                except (grpc.aio.AioRpcError, RuntimeError) as error:  # report what was measured before it
                    out.stopped = repr(error)
                    print(f"freshness measurement stopped: {error!r}", file=sys.stderr)
                finally:
                    await processes.stop_all()
        report(args, setup, out)
    finally:
        await drop_databases(server, [core], [prefix])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_menus", description=__doc__.split("\n")[0])
    default_mysql = os.environ.get("TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/tm_bench")
    default_redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    parser.add_argument("--mysql-url", default=default_mysql, help=f"MariaDB server (default {default_mysql})")
    parser.add_argument("--redis-url", default=default_redis, help=f"Redis (default {default_redis})")
    parser.add_argument("--users", type=int, default=1000, help="users of the tenant (default 1000)")
    add_wrk_arguments(parser, seconds=8.0, rounds=2, per="endpoint")
    parser.add_argument("--samples", type=int, default=50, help="uncached computations measured (default 50)")
    parser.add_argument("--changes", type=int, default=20, help="role changes and overrides measured (default 20)")
    add_parts_argument(parser, ("edge", "fresh"), "what to measure besides the uncached cost")
    args = parser.parse_args(argv)
    check_wrk_arguments(parser, args)
    if args.users < 1 or args.samples < 1 or args.changes < 1:
        parser.error("--users, --samples and --changes must be positive")
    check_parts_argument(parser, args, ("edge", "fresh"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return bench_main(
        "bench-menus",
        lambda workdir: run(args, workdir),
        needs_wrk="edge" in args.parts,
        workdir_prefix="tm-bench-menus-",
    )


if __name__ == "__main__":
    sys.exit(main())
