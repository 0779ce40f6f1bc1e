"""tenantctl: operate tenants over gRPC.

    tenantctl tenants create acme --display-name "Acme" --label tier=gold
    tenantctl tenants list [--state ACTIVE] [--label tier=gold]
    tenantctl tenants get ID | --slug acme
    tenantctl tenants update ID [--display-name N] [--plan P] [--label k=v ...] [--remove-label k ...]
    tenantctl tenants suspend|resume|delete ID [--etag E]
    tenantctl tenants usage ID [--hours 24]      calls and failed calls per hour
    tenantctl tenants move ID|SLUG --to SERVER   the tenant's database to another server (reads the database)
    tenantctl tenants move ID|SLUG --abort       abandon that tenant's unfinished move
    tenantctl migrate [--concurrency 8] [--tenant ID ...]

    tenantctl keys rotate

    tenantctl admin reset-password [--email E] [--generate | --password-stdin] [--database [URL]]
    tenantctl mail dead-letters | retry JOB_ID ... | discard JOB_ID ...   (reads the database)

Talks to the tenants and auth services directly (TENANTMESH_TENANTS_ADDR,
TENANTMESH_AUTH_ADDR) over the mesh's mutual TLS, presenting the ``tenantctl``
certificate (``make run`` issues one into the data directory; production gives
it with the TENANTMESH_MESH_TLS_*_FILE variables), or to one gRPC endpoint given
with --target, e.g. the edge's plain port, or its HTTPS port over TLS with --ca FILE
(TENANTMESH_CA_FILE): `tenantctl --target localhost:8443 --ca .data/tls/ca.pem tenants list`.
Authenticates with --token / TENANTMESH_TOKEN (an access token), or --api-key /
TENANTMESH_API_KEY (a service account key, exchanged for a token), or else the
platform service key the embedded default keeps in the data directory.

Output: `tenants list` prints a header row, then one tenant per line; with --json every
command prints NDJSON instead (one JSON object per line, one line per tenant; `migrate`
one per migrated tenant), so a listing pipes into `jq -c` or a line-by-line reader. Long
operations (`tenants create` waiting for provisioning, `migrate`) keep a progress line on
standard error when it is a terminal, and none with --json. Errors go to standard error: the
gRPC code, the stable reason and the message, then one indented line per invalid field.

Exit codes: 0 done; 1 the platform refused (an error as above) or a migration left
tenants failed; 2 the command line is wrong (unknown option, missing argument).

``admin reset-password`` sets the platform administrator's password (and ends
their sessions) through the mesh with those credentials, or, with --database,
straight in the core database (DATABASE_URL, or the embedded default's file)
for when the mesh is down. The password is asked for twice, read from stdin
(--password-stdin), or generated and printed (--generate).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import secrets
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2, json_format
from google.rpc import error_details_pb2
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from tenantmesh.auth.v1 import admin_service_pb2, admin_service_pb2_grpc, auth_service_pb2, auth_service_pb2_grpc
from tenantmesh.tenants.v1 import tenant_pb2, tenant_service_pb2, tenant_service_pb2_grpc

from services.cli.deliveries import add_commands as add_mail_commands
from services.cli.deliveries import mail_command
from services.cli.moves import add_move_command, move_command
from services.cli.progress import Progress
from services.runtime.client import create_mesh_channel
from services.runtime.config import ConfigError, EnvReader, load_mesh_tls
from services.runtime.context import PLATFORM_TENANT_ID
from services.runtime.errors import TenantmeshError
from services.runtime.mesh_tls import TENANTCTL, MeshTlsError, channel_credentials
from services.runtime.rich_status import details_of, reason_of
from services.tenants.usage import LONGEST_RANGE

STATES = [name.removeprefix("TENANT_STATE_") for name in tenant_pb2.TenantState.keys()][1:]  # noqa: SIM118 - an enum wrapper, not a dict


def _key_value(text: str) -> str:
    """An argparse type: ``key=value`` (a wrong one exits 2 with a message, as any bad argument)."""
    key, sep, _ = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return text


def _pairs(items: Sequence[str]) -> dict[str, str]:
    """``key=value`` arguments (checked by _key_value) as a dict."""
    return dict(item.partition("=")[::2] for item in items)


def _existing_file(text: str) -> str:
    """An argparse type: a file that exists (a CA certificate)."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


def _tenant_line(tenant: tenant_pb2.Tenant) -> str:
    state = tenant_pb2.TenantState.Name(tenant.state).removeprefix("TENANT_STATE_")
    labels = ",".join(f"{k}={v}" for k, v in sorted(tenant.labels.items()))
    return f"{tenant.tenant_id}  {tenant.slug:<24} {state:<12} {tenant.database.database:<32} {labels}"


TENANT_HEADER_ROW = f"{'TENANT_ID':<36}  {'SLUG':<24} {'STATE':<12} {'DATABASE':<32} LABELS"


def _print_tenant(tenant: tenant_pb2.Tenant, as_json: bool) -> None:
    if as_json:
        # One line per document (NDJSON): a listing is a stream of them.
        print(json.dumps(json_format.MessageToDict(tenant), separators=(",", ":"), sort_keys=True))
    else:
        print(_tenant_line(tenant))


def describe_error(exc: grpc.aio.AioRpcError) -> str:
    """The code, reason and message, then each field violation the status carries."""
    lines = [f"error: {exc.code().name} {reason_of(exc)}: {exc.details()}"]
    lines.extend(f"  {violation.field}: {violation.description}" for violation in field_violations(exc))
    return "\n".join(lines)


def field_violations(exc: grpc.aio.AioRpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    return [v for bad_request in details_of(exc, error_details_pb2.BadRequest) for v in bad_request.field_violations]


async def _print_usage(stub: Any, args: argparse.Namespace) -> None:
    """One line per hour with calls: start of the hour (UTC), calls, failed calls."""
    request = tenant_service_pb2.GetTenantUsageRequest(tenant_id=args.tenant_id)
    request.start_time.FromDatetime(datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=args.hours))
    response = await stub.GetTenantUsage(request)
    for hour in response.hours:
        if args.json:
            entry = {"hour": hour.start_time.ToJsonString(), "requests": hour.requests, "errors": hour.errors}
            print(json.dumps(entry))
        else:
            print(f"{hour.start_time.ToJsonString()}  {hour.requests:>10} calls  {hour.errors:>8} failed")


async def tenants_command(stub: Any, args: argparse.Namespace) -> None:
    pb = tenant_service_pb2
    if args.action == "create":
        tenant = tenant_pb2.Tenant(
            slug=args.slug,
            display_name=args.display_name or "",
            plan=args.plan or "",
            labels=_pairs(args.label),
        )
        create_request = pb.CreateTenantRequest(tenant=tenant, request_id=str(uuid.uuid4()))
        # The answer comes once the tenant is provisioned (its databases made and migrated).
        async with Progress(quiet=args.json).waiting(f"creating {args.slug}: provisioning its databases"):
            response = await stub.CreateTenant(create_request)
        _print_tenant(response.tenant, args.json)
    elif args.action == "get":
        request = pb.GetTenantRequest(slug=args.slug) if args.slug else pb.GetTenantRequest(tenant_id=args.tenant_id)
        _print_tenant((await stub.GetTenant(request)).tenant, args.json)
    elif args.action == "list":
        token = ""
        if not args.json:
            print(TENANT_HEADER_ROW)
        while True:
            page = await stub.ListTenants(
                pb.ListTenantsRequest(
                    page_size=200,
                    page_token=token,
                    states=[f"TENANT_STATE_{s}" for s in args.state],
                    labels=args.label,
                )
            )
            for tenant in page.tenants:
                _print_tenant(tenant, args.json)
            token = page.next_page_token
            if not token:
                break
    elif args.action == "usage":
        await _print_usage(stub, args)
    elif args.action == "update":
        tenant = tenant_pb2.Tenant(tenant_id=args.tenant_id, etag=args.etag or "")
        paths = []
        if args.display_name is not None:
            tenant.display_name = args.display_name
            paths.append("display_name")
        if args.plan is not None:
            tenant.plan = args.plan
            paths.append("plan")
        if args.label or args.remove_label:
            # The service replaces the whole map: start from the tenant's labels as read, and send
            # the etag of that read (unless given) so that a change made meanwhile is not undone.
            current = (await stub.GetTenant(pb.GetTenantRequest(tenant_id=args.tenant_id))).tenant
            labels = {**current.labels, **_pairs(args.label)}
            for key in args.remove_label:
                labels.pop(key, None)
            tenant.labels.update(labels)
            tenant.etag = args.etag or current.etag
            paths.append("labels")
        response = await stub.UpdateTenant(
            pb.UpdateTenantRequest(tenant=tenant, update_mask=field_mask_pb2.FieldMask(paths=paths))
        )
        _print_tenant(response.tenant, args.json)
    else:
        method, request_type = {
            "suspend": ("SuspendTenant", pb.SuspendTenantRequest),
            "resume": ("ResumeTenant", pb.ResumeTenantRequest),
            "delete": ("DeleteTenant", pb.DeleteTenantRequest),
        }[args.action]
        response = await getattr(stub, method)(request_type(tenant_id=args.tenant_id, etag=args.etag or ""))
        _print_tenant(response.tenant, args.json)


async def migrate_command(stub: Any, args: argparse.Namespace) -> int:
    failures = []
    request = tenant_service_pb2.MigrateTenantDatabasesRequest(concurrency=args.concurrency, tenant_ids=args.tenant)
    total = 0
    progress_line = Progress(quiet=args.json)
    progress_line.show("migrating tenant databases: starting")
    async for progress in stub.MigrateTenantDatabases(request):
        total = progress.total
        if not progress.ok:
            failures.append(progress)
        progress_line.clear()
        if args.json:
            print(json.dumps(json_format.MessageToDict(progress), separators=(",", ":"), sort_keys=True), flush=True)
        else:
            versions = " ".join(
                f"{s.service}={s.schema_version or 'FAILED:' + s.error_reason}" for s in progress.services
            )
            status = "ok  " if progress.ok else "FAIL"
            print(f"[{progress.completed}/{progress.total}] {status} {progress.slug:<24} {versions}", flush=True)
        failed = f", {len(failures)} failed" if failures else ""
        progress_line.show(f"migrating tenant databases: {progress.completed} of {progress.total} done{failed}")
    progress_line.clear()
    if args.json:
        return 1 if failures else 0
    print(f"migrated {total - len(failures)} of {total} tenant databases")
    for failed_tenant in failures:
        reasons = ", ".join(f"{s.service}: {s.error_reason}" for s in failed_tenant.services if s.error_reason)
        print(f"  failed: {failed_tenant.slug} ({failed_tenant.tenant_id}) {reasons}")
    return 1 if failures else 0


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (a wrong one exits 2 with a message)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenantctl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--target", help="one gRPC endpoint for every call, e.g. the edge's plain port (host:port)")
    parser.add_argument(
        "--ca",
        default=os.environ.get("TENANTMESH_CA_FILE"),
        type=_existing_file,
        metavar="FILE",
        help="CA certificate (PEM) to reach --target over TLS, e.g. the edge's HTTPS port with the dev CA",
    )
    parser.add_argument("--token", default=os.environ.get("TENANTMESH_TOKEN"), help="access token")
    parser.add_argument("--api-key", default=os.environ.get("TENANTMESH_API_KEY"), help="service account API key")
    parser.add_argument("--json", action="store_true", help="print NDJSON (one JSON object per line), no progress line")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    commands = parser.add_subparsers(dest="command", required=True)

    tenants = commands.add_parser("tenants", help="tenant lifecycle").add_subparsers(dest="action", required=True)
    create = tenants.add_parser("create", help="create and provision a tenant")
    create.add_argument("slug")
    create.add_argument("--display-name")
    create.add_argument("--plan")
    create.add_argument("--label", action="append", default=[], type=_key_value, metavar="KEY=VALUE")
    get = tenants.add_parser("get", help="show one tenant")
    which = get.add_mutually_exclusive_group()
    which.add_argument("tenant_id", nargs="?")
    which.add_argument("--slug")
    listing = tenants.add_parser("list", help="list tenants")
    listing.add_argument("--state", action="append", default=[], choices=STATES)
    listing.add_argument("--label", action="append", default=[], type=_key_value, metavar="KEY=VALUE")
    usage = tenants.add_parser("usage", help="a tenant's calls and failed calls per hour")
    usage.add_argument("tenant_id")
    usage.add_argument(
        "--hours",
        type=_whole_number(1, int(LONGEST_RANGE.total_seconds()) // 3600),
        default=24,
        help="how many hours back (default 24, at most 744)",
    )
    update = tenants.add_parser("update", help="change display name, plan or labels")
    update.add_argument("tenant_id")
    update.add_argument("--display-name")
    update.add_argument("--plan")
    update.add_argument(
        "--label", action="append", default=[], type=_key_value, metavar="KEY=VALUE", help="set a label (others stay)"
    )
    update.add_argument("--remove-label", action="append", default=[], metavar="KEY", help="remove a label")
    update.add_argument("--etag")
    for action in ("suspend", "resume", "delete"):
        command = tenants.add_parser(action, help=f"{action} a tenant")
        command.add_argument("tenant_id")
        command.add_argument("--etag")
    add_move_command(tenants)

    keys = commands.add_parser("keys", help="token signing keys").add_subparsers(dest="action", required=True)
    keys.add_parser("rotate", help="start signing with a new key; old keys stay published until tokens expire")

    admin = commands.add_parser("admin", help="the platform administrator").add_subparsers(dest="action", required=True)
    reset = admin.add_parser("reset-password", help="set the platform administrator's password")
    reset.add_argument(
        "--email",
        default=os.environ.get("TENANTMESH_ADMIN_EMAIL", "admin@tenantmesh.local"),
        help="the administrator (default TENANTMESH_ADMIN_EMAIL or admin@tenantmesh.local)",
    )
    source = reset.add_mutually_exclusive_group()
    source.add_argument("--generate", action="store_true", help="generate a password and print it")
    source.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset.add_argument(
        "--database",
        nargs="?",
        const="",
        metavar="URL",
        help="work on the core database directly (mesh down); URL defaults to DATABASE_URL or the embedded default",
    )

    migrate = commands.add_parser("migrate", help="migrate every tenant database to the newest schemas")
    migrate.add_argument("--concurrency", type=_whole_number(1, 64), default=8)
    migrate.add_argument("--tenant", action="append", default=[], metavar="TENANT_ID")

    add_mail_commands(commands)
    return parser


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key:
        return str(args.api_key)
    data_dir = Path(os.environ.get("TENANTMESH_DATA_DIR", ".data"))
    try:
        return (data_dir / "secrets" / "service-api-key").read_text().strip() or None
    except FileNotFoundError:
        return None


def service_channel(args: argparse.Namespace, target: str, service: str) -> grpc.aio.Channel:
    """A channel to ``service``: straight to its port over mesh TLS as ``tenantctl``, or to
    --target (TLS trusting ``--ca`` — the edge's HTTPS port serves gRPC too — else plaintext)."""
    if args.target:
        if args.ca:
            return grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(Path(args.ca).read_bytes()))
        return grpc.aio.insecure_channel(target)
    data_dir = Path(os.environ.get("TENANTMESH_DATA_DIR", ".data")).resolve()
    try:
        tls = load_mesh_tls(EnvReader(os.environ), data_dir)
        if tls is None:
            return grpc.aio.insecure_channel(target)
        credentials, _ = channel_credentials(tls, TENANTCTL)
    except (ConfigError, MeshTlsError) as exc:
        raise SystemExit(f"tenantctl: no mesh certificate to call the services with: {exc}") from None
    return create_mesh_channel(target, service, credentials)


async def access_token(args: argparse.Namespace, auth_target: str) -> str:
    if args.token:
        return str(args.token)
    key = _api_key(args)
    if key is None:
        raise SystemExit(
            "tenantctl: no credentials: give --token, --api-key (or TENANTMESH_TOKEN / TENANTMESH_API_KEY)"
        )
    async with service_channel(args, auth_target, "auth") as channel:
        stub: Any = auth_service_pb2_grpc.AuthServiceStub(channel)
        response = await stub.ExchangeApiKey(auth_service_pb2.ExchangeApiKeyRequest(api_key=key), timeout=args.timeout)
        return str(response.tokens.access_token)


async def keys_command(
    channel: grpc.aio.Channel, metadata: Sequence[tuple[str, str]], args: argparse.Namespace
) -> None:
    stub: Any = admin_service_pb2_grpc.SigningKeyServiceStub(channel)
    response = await stub.RotateSigningKey(
        admin_service_pb2.RotateSigningKeyRequest(), metadata=metadata, timeout=args.timeout
    )
    print(f"new signing key {response.kid}; published: {', '.join(response.published_kids)}")


class _Authorized:
    """A stub whose calls all carry the same metadata and timeout."""

    def __init__(self, stub: Any, metadata: Sequence[tuple[str, str]], timeout: float) -> None:
        self._stub = stub
        self._metadata = tuple(metadata)
        self._timeout = timeout

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)

        def call(request: Any) -> Any:
            return method(request, metadata=self._metadata, timeout=self._timeout)

        return call


def new_password(args: argparse.Namespace) -> str:
    if args.generate:
        return secrets.token_urlsafe(18)
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("tenantctl: the passwords differ")
    return first


async def reset_admin_password_online(
    channel: grpc.aio.Channel, metadata: Sequence[tuple[str, str]], args: argparse.Namespace, password: str
) -> None:
    """Finds the administrator among the platform tenant's users and sets the password there."""
    users: Any = admin_service_pb2_grpc.UserServiceStub(channel)
    scoped = (*metadata, ("x-tenant-id", PLATFORM_TENANT_ID))
    token = ""
    while True:
        page = await users.ListUsers(
            admin_service_pb2.ListUsersRequest(page_size=500, page_token=token), metadata=scoped, timeout=args.timeout
        )
        found = next((u for u in page.users if u.email == args.email.lower()), None)
        if found is not None:
            await users.SetUserPassword(
                admin_service_pb2.SetUserPasswordRequest(user_id=found.user_id, password=password),
                metadata=scoped,
                timeout=args.timeout,
            )
            return
        token = page.next_page_token
        if not token:
            raise SystemExit(f"tenantctl: the platform tenant has no user {args.email}")


async def reset_admin_password_offline(args: argparse.Namespace, password: str) -> None:
    # Imported here: the other commands only talk gRPC.
    from services.auth.app import CORE_MIGRATIONS  # noqa: PLC0415
    from services.auth.bootstrap import reset_admin_password  # noqa: PLC0415
    from services.runtime.config import load_settings  # noqa: PLC0415
    from services.runtime.db import DatabaseRouter, upgrade_core  # noqa: PLC0415

    url = args.database or load_settings().database.url
    db = DatabaseRouter(url)
    await db.start()
    try:
        # A newer tenantctl than the stopped mesh: bring the auth tables to what this code expects.
        await upgrade_core(db, CORE_MIGRATIONS)
        await reset_admin_password(db, args.email, password)
    finally:
        await db.dispose()


async def admin_command(args: argparse.Namespace, auth_target: str) -> int:
    password = new_password(args)
    try:
        if args.database is not None:
            await reset_admin_password_offline(args, password)
        else:
            metadata = [("authorization", f"Bearer {await access_token(args, auth_target)}")]
            async with service_channel(args, auth_target, "auth") as channel:
                await reset_admin_password_online(channel, metadata, args, password)
    except TenantmeshError as exc:
        print(f"error: {exc.code.name} {exc.reason}: {exc.message}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, OSError) as exc:
        # The driver's words (never the URL, which may carry a password).
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        print(f"error: the core database cannot be used: {type(cause).__name__}: {cause}", file=sys.stderr)
        return 1
    print(f"password of {args.email} reset; every session of theirs has ended")
    if args.generate:
        print(f"new password: {password}")
    return 0


async def run(args: argparse.Namespace) -> int:
    if args.command == "mail":
        return await mail_command(args)
    if args.command == "tenants" and args.action == "move":
        return await move_command(args)
    tenants_target = args.target or os.environ.get("TENANTMESH_TENANTS_ADDR", "127.0.0.1:50051")
    auth_target = args.target or os.environ.get("TENANTMESH_AUTH_ADDR", "127.0.0.1:50052")
    try:
        if args.command == "admin":
            return await admin_command(args, auth_target)
        metadata = [("authorization", f"Bearer {await access_token(args, auth_target)}")]
        if args.command == "keys":
            async with service_channel(args, auth_target, "auth") as channel:
                await keys_command(channel, metadata, args)
            return 0
        async with service_channel(args, tenants_target, "tenants") as channel:
            stub = _Authorized(tenant_service_pb2_grpc.TenantServiceStub(channel), metadata, args.timeout)
            if args.command == "migrate":
                return await migrate_command(stub, args)
            await tenants_command(stub, args)
            return 0
    except grpc.aio.AioRpcError as exc:
        print(describe_error(exc), file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "tenants" and args.action == "get" and not (args.tenant_id or args.slug):
        raise SystemExit("tenantctl tenants get: give a tenant id or --slug")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
