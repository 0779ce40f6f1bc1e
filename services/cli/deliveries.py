"""``tenantctl mail``: the operator's view of undeliverable mail, straight from the core database.

    tenantctl mail dead-letters [--limit 100]
    tenantctl mail retry JOB_ID ... | --all
    tenantctl mail discard JOB_ID ... | --all

Reads DATABASE_URL (and TENANTMESH_DATA_DIR for the embedded default's SQLite file) like
the services do; needs no running service and no credentials but the database's. A
retried job keeps its id (and so its Message-ID) and goes out at a dispatcher's next
poll. Nothing printed here comes from a payload: addresses and parameters stay sealed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect

from services.runtime.config import load_settings
from services.runtime.db import DatabaseRouter
from services.runtime.delivery import (
    DeliveryRow,
    discard_dead_letters,
    list_dead_letters,
    retry_dead_letters,
)
from services.runtime.mail.channel import CHANNEL


def add_commands(commands: Any) -> None:
    mail = commands.add_parser("mail", help="mail that could not be delivered (reads the database)")
    actions = mail.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("dead-letters", help="list dead-lettered mail, newest first")
    listing.add_argument("--limit", type=int, default=100)
    for action, text in (("retry", "queue dead letters again"), ("discard", "delete dead letters")):
        command = actions.add_parser(action, help=text)
        command.add_argument("job_id", nargs="*")
        command.add_argument("--all", action="store_true", help="every dead letter")


async def _table_exists(db: DatabaseRouter) -> bool:
    async with db.core_connection() as conn:
        return await conn.run_sync(lambda sync: inspect(sync).has_table(DeliveryRow.__tablename__))


async def mail_command(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    if args.action in ("retry", "discard") and bool(args.job_id) == bool(args.all):
        raise SystemExit(f"tenantctl mail {args.action}: give job ids or --all")
    settings = load_settings(os.environ if env is None else env)
    database = settings.database
    db = DatabaseRouter(
        database.url,
        database.tenant_servers,
        sqlite_dir=settings.data_dir / "tenants" if database.is_sqlite else None,
        pool_size=1,
        max_overflow=0,
        tenant_db_prefix=database.tenant_db_prefix,
    )
    await db.start()
    try:
        if not await _table_exists(db):
            print("no mail has been queued on this platform yet")
            return 0
        if args.action == "dead-letters":
            letters = await list_dead_letters(db, channel=CHANNEL, limit=args.limit)
            for letter in letters:
                finished = letter.finish_time.isoformat(sep=" ") if letter.finish_time else "-"
                print(
                    f"{letter.job_id}  {finished}  {letter.topic:<28} tenant={letter.tenant_id or '-'}  "
                    f"attempts={letter.attempts}  {letter.reason}: {letter.last_error}"
                )
            print(f"{len(letters)} dead letter(s)")
            return 0
        ids = None if args.all else list(args.job_id)
        if args.action == "retry":
            print(f"queued again: {await retry_dead_letters(db, ids)}")
        else:
            print(f"discarded: {await discard_dead_letters(db, ids)}")
        return 0
    finally:
        await db.dispose()
