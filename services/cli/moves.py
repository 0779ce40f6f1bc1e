"""``tenantctl tenants move``: a tenant's database to another server, straight on the databases.

    tenantctl tenants move TENANT --to SERVER [--settle-seconds 5] [--replica-wait-seconds 300]
    tenantctl tenants move TENANT --abort

TENANT is the tenant's id or slug; SERVER a name of TENANTMESH_TENANT_DB_SERVERS. Reads
DATABASE_URL, TENANTMESH_TENANT_DB_SERVERS and TENANTMESH_TENANT_DB_REPLICAS like the services
do and needs the database credentials, not a token; the services must be running (they relay
the tenant events that freeze and then re-route the tenant). Prints one line per step. Run it
again after a crash or an error: it resumes the move where it stopped. ``--abort`` abandons a
move that cannot finish, before its switch: the copy on the target server is dropped and the
tenant's writes are allowed again on its current server.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select

from services.runtime.config import load_settings
from services.runtime.db import DatabaseRouter
from services.runtime.unit_of_work import UnitOfWork
from services.tenants.app import SERVICE
from services.tenants.models import TenantRow
from services.tenants.moving import DEFAULT_REPLICA_WAIT_SECONDS, MoveError, MoveProgress, TenantMover

# How long the freeze waits for every process to learn of it, and the old copy for stragglers:
# the outbox relays poll every second and the tenant event drops every cache.
DEFAULT_SETTLE_SECONDS = 5.0


def add_move_command(tenants: Any) -> None:
    move = tenants.add_parser("move", help="move a tenant's database to another server (reads the database)")
    move.add_argument("tenant", help="tenant id or slug")
    where = move.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", metavar="SERVER", help="a server of TENANTMESH_TENANT_DB_SERVERS")
    where.add_argument(
        "--abort",
        action="store_true",
        help="abandon the tenant's unfinished move (before its switch): drop the copy, lift the freeze",
    )
    move.add_argument("--settle-seconds", type=float, default=DEFAULT_SETTLE_SECONDS, help=argparse.SUPPRESS)
    move.add_argument(
        "--replica-wait-seconds",
        type=float,
        default=DEFAULT_REPLICA_WAIT_SECONDS,
        help="how long the switch waits for the target server's read replica to replay the copy",
    )


def _print(progress: MoveProgress) -> None:
    print(f"{progress.tenant_id}  {progress.step}  {progress.detail}".rstrip(), flush=True)


async def move_command(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    settings = load_settings(os.environ if env is None else env)
    database = settings.database
    if args.to is not None and args.to not in database.tenant_servers:
        print(
            f"tenantctl tenants move: unknown server {args.to!r}; known: {sorted(database.tenant_servers)}",
            file=sys.stderr,
        )
        return 1
    db = DatabaseRouter(
        database.url,
        database.tenant_servers,
        pool_size=2,
        max_overflow=0,
        tenant_db_prefix=database.tenant_db_prefix,
        # The switch waits for the target server's replica, which read-only calls read from.
        tenant_replicas=database.tenant_replicas,
    )
    await db.start()
    try:
        async with db.core_session() as session:
            tenant_id = await session.scalar(
                select(TenantRow.tenant_id).where(
                    or_(TenantRow.tenant_id == args.tenant, TenantRow.slug == args.tenant)
                )
            )
        if tenant_id is None:
            print(f"tenantctl tenants move: no tenant {args.tenant!r}", file=sys.stderr)
            return 1
        mover = TenantMover(
            db,
            UnitOfWork(db, SERVICE),
            settle_seconds=args.settle_seconds,
            report=_print,
            replica_wait_seconds=args.replica_wait_seconds,
        )
        if args.abort:
            await mover.abort(tenant_id)
        else:
            await mover.move(tenant_id, args.to)
        return 0
    except MoveError as exc:
        print(f"tenantctl tenants move: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
