"""Moving a tenant's database to another server, online, resumable after a crash.

Steps, each recorded in ``tenant_moves`` once done, so a move that died resumes
where it stopped (``tenantctl tenants move`` again):

1. ``copy``   the database is copied table by table while the tenant works as usual
              (a leftover partial copy of a crashed attempt is dropped first: it is ours).
2. ``freeze`` the tenant's writes are refused (its placement says ``writes_frozen``; every
              service learns it from the tenant event) and the mover waits ``settle_seconds``
              for every process to have it and for writes in flight to end, then until the
              relays have taken the events the tenant wrote before (its outbox is empty).
3. ``sync``   the schema can no longer change: a table whose definition (``SHOW CREATE TABLE``)
              differs from the source's (a migration or deploy during the copy) is made again
              and copied whole, a table the source no longer has is dropped, and a table whose
              checksum differs is copied again; then every table's definition, row count and
              checksum must match, or the move stops here, frozen.
4. ``switch`` when the target server has a read replica, the mover first waits until it has
              replayed the copy (its GTID position); then one core transaction points the tenant
              at the new server, lifts the freeze and moves its outbox mark; the tenant event
              drops every cache. Only a tenant still active or suspended on the source is moved.
5. ``drop``   after another ``settle_seconds`` the old copy is checked against the verified
              checksums: unchanged, it is dropped; changed (a process wrote to it with a stale
              view of the tenant), it is kept and the move is reported diverged.

A move that cannot finish is abandoned before the switch (``tenantctl tenants move --abort``):
the target copy is dropped, the freeze lifted and the move's record deleted. A database error of
a step is a :class:`MoveError` (the move stays where it was, resumable or abandonable).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, Result, delete, select, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, TenantDatabase
from services.runtime.errors import TenantmeshError
from services.runtime.events import Event
from services.runtime.outbox import OutboxRow, TenantOutboxMark
from services.runtime.unit_of_work import UnitOfWork
from services.tenants.models import TenantMoveRow, TenantRow
from services.tenants.states import TenantState

log = logging.getLogger("tenantmesh.tenants.moving")

COPY_BATCH_ROWS = 500
# Per table: (rows, checksum).
Checksums = dict[str, tuple[int, int]]
# How long the switch waits for the target server's read replica to replay the copy.
DEFAULT_REPLICA_WAIT_SECONDS = 300.0
# How long the freeze waits for the relays to take the tenant's last events, and how often it looks.
DEFAULT_OUTBOX_WAIT_SECONDS = 60.0
OUTBOX_POLL_SECONDS = 0.5
OUTBOX_TABLE = OutboxRow.__tablename__
# The step of a move being abandoned (``TenantMover.abort``).
ABORTING = "aborting"
# Steps a move can be abandoned at: before the switch, the tenant still lives on the source.
ABANDONABLE = ("copy", "freeze", "sync", "switch", ABORTING)
# The replica wait's reads: a name no caller has, so never pinned to the primary.
_MOVER_CALLER = "tenantmesh.tenant-mover"
# A table's AUTO_INCREMENT counter differs between copies and is no part of its definition.
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


class MoveError(Exception):
    """The move cannot go on; the message says why and what the operator can do."""


@dataclass(frozen=True)
class MoveProgress:
    tenant_id: str
    step: str
    detail: str = ""


class TenantMover:
    def __init__(
        self,
        db: DatabaseRouter,
        work: UnitOfWork,
        *,
        settle_seconds: float,
        report: Callable[[MoveProgress], None] = lambda _progress: None,
        after_step: Callable[[str], Awaitable[None]] | None = None,
        replica_wait_seconds: float = DEFAULT_REPLICA_WAIT_SECONDS,
        outbox_wait_seconds: float = DEFAULT_OUTBOX_WAIT_SECONDS,
    ) -> None:
        if db.dialect != "mysql":
            raise MoveError("moving a tenant database needs MySQL/MariaDB tenant servers")
        self._db, self._work = db, work
        self._settle = settle_seconds
        self._replica_wait = replica_wait_seconds
        self._outbox_wait = outbox_wait_seconds
        self._report = report
        # Called once a step is recorded; tests end the run there to resume it later.
        self._after_step = after_step

    async def move(self, tenant_id: str, target: str) -> None:
        """Moves the tenant's database to ``target``, or resumes the move already under way."""
        step = "start"
        try:
            move = await self._start(tenant_id, target)
            steps = {
                "copy": self._copy,
                "freeze": self._freeze,
                "sync": self._sync,
                "switch": self._switch,
                "drop": self._drop,
            }
            while move.step != "done":
                step = move.step
                self._report(MoveProgress(tenant_id, step))
                move = await steps[step](move)
                if self._after_step is not None:
                    await self._after_step(step)
        except (SQLAlchemyError, OSError, TenantmeshError) as exc:
            # A database error (a schema the copy cannot take, a server gone, ...): the move stays
            # at this step; the operator fixes the cause and resumes, or abandons the move.
            raise MoveError(
                f"step {step!r} failed: {_describe(exc)}; fix the cause and run the move again"
                + ("" if step in ("drop", "done") else ", or abandon it with --abort")
            ) from exc
        self._report(MoveProgress(tenant_id, "done", f"on {target}"))

    async def abort(self, tenant_id: str) -> None:
        """Abandons an unfinished move before its switch: drops the target copy, lifts the freeze
        and deletes the move's record, so the tenant works on its source server as before."""
        try:
            move = await self._mark_aborting(tenant_id)
            self._report(MoveProgress(tenant_id, ABORTING, f"dropping the copy on {move.target_server}"))
            _, target = _databases(move)
            # Ours: a move is recorded only when the target had no database of that name.
            await self._db.drop_tenant_database(target)
            async with self._work.core() as work:
                session = work.session
                await session.execute(
                    update(TenantRow)
                    .where(TenantRow.tenant_id == tenant_id, TenantRow.db_server == move.source_server)
                    .values(db_writes_frozen=False, update_time=utcnow(), revision=TenantRow.revision + 1)
                )
                await session.execute(
                    delete(TenantMoveRow).where(TenantMoveRow.tenant_id == tenant_id, TenantMoveRow.step == ABORTING)
                )
                work.emit(Event("tenant.move_abandoned", tenant_id, {"server": move.source_server}))
        except (SQLAlchemyError, OSError, TenantmeshError) as exc:
            raise MoveError(f"abandoning the move failed: {_describe(exc)}; run --abort again") from exc
        self._report(MoveProgress(tenant_id, "abandoned", f"on {move.source_server}"))

    async def _mark_aborting(self, tenant_id: str) -> TenantMoveRow:
        # Under the move row's lock, so that a mover running meanwhile cannot switch the tenant to
        # the copy being dropped: its steps are recorded only from the step they ran at.
        async with self._db.core_session() as session:
            move = await session.get(TenantMoveRow, tenant_id, with_for_update=True)
            if move is None or move.step == "done":
                raise MoveError("the tenant has no unfinished move")
            if move.step not in ABANDONABLE:
                raise MoveError(
                    f"the move has switched the tenant to {move.target_server!r} already and cannot be "
                    "abandoned; run it again to finish it"
                )
            await self._record(session, move, ABORTING)
            await session.commit()
            return move

    # -- the steps ----------------------------------------------------------------------------

    async def _start(self, tenant_id: str, target: str) -> TenantMoveRow:
        async with self._db.core_session() as session:
            # Locked: DeleteTenant locks it too and refuses a tenant with an unfinished move.
            tenant = await session.get(TenantRow, tenant_id, with_for_update=True)
            if tenant is None or tenant.state not in (TenantState.ACTIVE, TenantState.SUSPENDED):
                raise MoveError("only an active or suspended tenant can be moved")
            move = await session.get(TenantMoveRow, tenant_id)
            if move is not None and move.step == ABORTING:
                raise MoveError("the move is being abandoned; run it with --abort to finish that")
            if move is not None and move.step != "done":
                if move.target_server != target:
                    raise MoveError(f"a move to {move.target_server!r} is under way; finish it first")
                return move
            if tenant.db_server == target:
                raise MoveError(f"the tenant's database is on {target!r} already")
            destination = TenantDatabase(server=target, name=tenant.db_name)
            if await self._db.tenant_database_exists(destination):
                # Not made by a recorded move, so not ours to overwrite.
                raise MoveError(f"{target!r} already has a database named {tenant.db_name!r}; it is left alone")
            now = utcnow()
            if move is not None:
                await session.delete(move)
                await session.flush()
            move = TenantMoveRow(
                tenant_id=tenant_id,
                source_server=tenant.db_server,
                target_server=target,
                db_name=tenant.db_name,
                step="copy",
                checksums_json="{}",
                start_time=now,
                update_time=now,
            )
            session.add(move)
            await session.commit()
            return move

    async def _copy(self, move: TenantMoveRow) -> TenantMoveRow:
        source, target = _databases(move)
        await self._db.drop_tenant_database(target)
        await self._db.create_tenant_database(target)
        async with self._db.tenant_connection(source) as src, self._db.tenant_connection(target) as dst:
            await _no_foreign_key_checks(dst)
            for table in await _tables(src):
                await _copy_table(src, dst, table, create=True)
        return await self._advance(move, "freeze")

    async def _freeze(self, move: TenantMoveRow) -> TenantMoveRow:
        await self._set_frozen(move.tenant_id, True, "tenant.moving")
        await asyncio.sleep(self._settle)
        await self._outbox_relayed(move)
        return await self._advance(move, "sync")

    async def _outbox_relayed(self, move: TenantMoveRow) -> None:
        """Waits until the relays have taken every event the tenant wrote before the freeze. They
        delete what they relay from the source, where no freeze applies to them: a row deleted
        after the sync's verification would make the old copy look changed at the drop (kept,
        reported diverged), and its copy on the target would be relayed a second time."""
        source, _ = _databases(move)
        deadline = asyncio.get_running_loop().time() + self._outbox_wait
        while True:
            async with self._db.tenant_connection(source) as src:
                waiting = await _outbox_rows(src)
            if not waiting:
                return
            if asyncio.get_running_loop().time() >= deadline:
                raise MoveError(
                    f"{waiting} events of the tenant still wait to be relayed after {self._outbox_wait:g} s (is the "
                    "event bus reachable?); the tenant stays frozen: run the move again, or abandon it with --abort"
                )
            await asyncio.sleep(OUTBOX_POLL_SECONDS)

    async def _sync(self, move: TenantMoveRow) -> TenantMoveRow:
        source, target = _databases(move)
        async with self._db.tenant_connection(source) as src, self._db.tenant_connection(target) as dst:
            await _no_foreign_key_checks(dst)
            # Frozen, the source's schema no longer changes: one that changed during the copy (a
            # migration, a deploy) is carried over here, indexes and constraints included.
            tables = await _tables(src)
            for gone in sorted(set(await _tables(dst)) - set(tables)):
                await dst.exec_driver_sql(f"DROP TABLE {_table(gone)}")
            wanted = await _definitions(src, tables)
            made = await _definitions(dst, tables)
            changed = [table for table in tables if made.get(table) != wanted[table]]
            before = await _checksums(src, tables)
            copied = await _checksums(dst, [table for table in tables if table not in changed])
            for table in tables:
                if table in changed or copied.get(table) != before[table]:
                    await _copy_table(src, dst, table, create=table in changed)
            after = await _checksums(dst, tables)
            remade = await _definitions(dst, tables)
        differing = sorted(t for t in tables if after.get(t) != before[t] or remade.get(t) != wanted[t])
        if differing:
            raise MoveError(f"the copy differs from the source in {differing}; run the move again")
        detail = f"{len(tables)} tables, {_rows(after)} rows" + (f", {len(changed)} made again" if changed else "")
        self._report(MoveProgress(move.tenant_id, "verified", detail))
        return await self._advance(move, "switch", checksums=after)

    async def _switch(self, move: TenantMoveRow) -> TenantMoveRow:
        _, target = _databases(move)
        if self._db.has_replica(target):
            await self._await_replica(move, target)
        async with self._work.core() as work:
            session = work.session
            switched = await session.execute(
                update(TenantRow)
                .where(
                    TenantRow.tenant_id == move.tenant_id,
                    # A tenant deleted (or moved otherwise) meanwhile is not brought back to life.
                    TenantRow.state.in_([TenantState.ACTIVE, TenantState.SUSPENDED]),
                    TenantRow.db_server == move.source_server,
                )
                .values(
                    db_server=move.target_server,
                    db_writes_frozen=False,
                    update_time=utcnow(),
                    revision=TenantRow.revision + 1,
                )
            )
            if _rowcount(switched) != 1:
                raise MoveError(
                    f"the tenant is no longer active or suspended on {move.source_server!r}; it is not switched: "
                    "abandon the move with --abort"
                )
            # The tenant database's outbox (if any) is relayed from where it now lives.
            await session.execute(
                update(TenantOutboxMark)
                .where(TenantOutboxMark.db_server == move.source_server, TenantOutboxMark.db_name == move.db_name)
                .values(db_server=move.target_server)
            )
            await self._record(session, move, "drop")
            work.emit(Event("tenant.moved", move.tenant_id, {"server": move.target_server}))
        return move

    async def _await_replica(self, move: TenantMoveRow, target: TenantDatabase) -> None:
        """Waits until the target server's read replica has replayed everything the target primary
        has now (the copy included): read-only calls read there from the switch on."""
        async with self._db.tenant_connection(target) as conn:
            mariadb = "mariadb" in str((await conn.exec_driver_sql("SELECT VERSION()")).scalar_one()).lower()
            position = str(
                (
                    await conn.exec_driver_sql(
                        "SELECT @@GLOBAL.gtid_binlog_pos" if mariadb else "SELECT @@GLOBAL.gtid_executed"
                    )
                ).scalar_one()
                or ""
            )
            await conn.rollback()
        if not position:
            log.warning(
                "the target server writes no GTIDs; its replica is not waited for", extra={"server": target.server}
            )
            return
        wait = (
            "SELECT MASTER_GTID_WAIT(:position, :timeout)"
            if mariadb
            else "SELECT WAIT_FOR_EXECUTED_GTID_SET(:position, :timeout)"
        )
        async with self._db.tenant_read_session(target, _MOVER_CALLER) as session:
            outcome = (
                await session.execute(text(wait), {"position": position, "timeout": self._replica_wait})
            ).scalar()
        if outcome != 0:  # -1 (MariaDB) or 1 (MySQL): timed out
            raise MoveError(
                f"the read replica of {move.target_server!r} has not replayed the copy within {self._replica_wait:g} s "
                f"(GTID {position}); the tenant stays frozen on {move.source_server!r}: run the move again once the "
                "replica has caught up, or abandon it with --abort"
            )
        self._report(MoveProgress(move.tenant_id, "replicated", f"replica of {move.target_server} at {position}"))

    async def _drop(self, move: TenantMoveRow) -> TenantMoveRow:
        source, _ = _databases(move)
        await asyncio.sleep(self._settle)
        verified = {table: (rows, checksum) for table, (rows, checksum) in json.loads(move.checksums_json).items()}
        if await self._db.tenant_database_exists(source):
            async with self._db.tenant_connection(source) as src:
                now = await _checksums(src, await _tables(src))
            if now != verified:
                raise MoveError(
                    f"the old copy on {move.source_server!r} changed after the switch; it is kept for inspection"
                )
            await self._db.drop_tenant_database(source)
        return await self._advance(move, "done")

    # -- records ------------------------------------------------------------------------------

    async def _set_frozen(self, tenant_id: str, frozen: bool, event: str) -> None:
        async with self._work.core() as work:
            await work.session.execute(
                update(TenantRow)
                .where(TenantRow.tenant_id == tenant_id)
                .values(db_writes_frozen=frozen, update_time=utcnow(), revision=TenantRow.revision + 1)
            )
            work.emit(Event(event, tenant_id))

    async def _advance(self, move: TenantMoveRow, step: str, checksums: Checksums | None = None) -> TenantMoveRow:
        async with self._db.core_session() as session:
            await self._record(session, move, step, checksums)
            await session.commit()
        return move

    @staticmethod
    async def _record(
        session: AsyncSession, move: TenantMoveRow, step: str, checksums: Checksums | None = None
    ) -> None:
        values: dict[str, object] = {"step": step, "update_time": utcnow()}
        if checksums is not None:
            values["checksums_json"] = json.dumps(checksums, sort_keys=True)
        # Only from the step this run is at: a move abandoned meanwhile (``abort``) is not revived.
        recorded = await session.execute(
            update(TenantMoveRow)
            .where(TenantMoveRow.tenant_id == move.tenant_id, TenantMoveRow.step == move.step)
            .values(**values)
        )
        if _rowcount(recorded) != 1:
            raise MoveError("the move was abandoned or taken over by another run meanwhile; nothing more is done")
        for name, value in values.items():
            setattr(move, name, value)


async def move_in_progress(db: DatabaseRouter, tenant_id: str) -> str | None:
    """The step an unfinished move of the tenant reached, if there is one."""
    async with db.core_session() as session:
        step = await session.scalar(select(TenantMoveRow.step).where(TenantMoveRow.tenant_id == tenant_id))
    return step if step not in (None, "done") else None


# -- copying ----------------------------------------------------------------------------------


def _databases(move: TenantMoveRow) -> tuple[TenantDatabase, TenantDatabase]:
    return (
        TenantDatabase(server=move.source_server, name=move.db_name),
        TenantDatabase(server=move.target_server, name=move.db_name),
    )


def _rowcount(result: Result[Any]) -> int:
    # An UPDATE's result is a CursorResult; MySQL counts the rows matched (SQLAlchemy's FOUND_ROWS).
    assert isinstance(result, CursorResult)
    return result.rowcount


def _describe(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return f"{type(cause).__name__}: {cause}"


def _rows(checksums: Checksums) -> int:
    return sum(rows for rows, _ in checksums.values())


def _table(name: str) -> str:
    # Table names come from information_schema of a whitelisted tenant database; quoted anyway.
    return "`" + name.replace("`", "``") + "`"


async def _no_foreign_key_checks(conn: AsyncConnection) -> None:
    # Tables are copied one by one, in any order: references are complete only at the end.
    await conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")


async def _tables(conn: AsyncConnection) -> list[str]:
    result = await conn.exec_driver_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
    )
    return [str(name) for (name,) in result.all()]


async def _outbox_rows(conn: AsyncConnection) -> int:
    """Events waiting in a tenant database's outbox (none if it has no outbox)."""
    if OUTBOX_TABLE not in await _tables(conn):
        return 0
    counted = await conn.exec_driver_sql(f"SELECT COUNT(*) FROM {_table(OUTBOX_TABLE)}")  # noqa: S608
    waiting = int(counted.scalar_one())
    await conn.rollback()
    return waiting


async def _definitions(conn: AsyncConnection, tables: Sequence[str]) -> dict[str, str]:
    """``SHOW CREATE TABLE`` of those of ``tables`` that exist, without the AUTO_INCREMENT counter."""
    present = set(await _tables(conn))
    definitions = {}
    for table in tables:
        if table in present:
            definition = tuple((await conn.exec_driver_sql(f"SHOW CREATE TABLE {_table(table)}")).one())[1]
            definitions[table] = _AUTO_INCREMENT.sub("", str(definition))
    await conn.rollback()
    return definitions


async def _checksums(conn: AsyncConnection, tables: Sequence[str]) -> Checksums:
    sums: Checksums = {}
    for table in tables:
        count = (await conn.exec_driver_sql(f"SELECT COUNT(*) FROM {_table(table)}")).scalar_one()  # noqa: S608
        checksum = tuple((await conn.exec_driver_sql(f"CHECKSUM TABLE {_table(table)} EXTENDED")).one())[1]
        sums[table] = (int(count), int(checksum or 0))
    await conn.rollback()
    return sums


async def _copy_table(src: AsyncConnection, dst: AsyncConnection, table: str, *, create: bool) -> None:
    if create:
        definition = tuple((await src.exec_driver_sql(f"SHOW CREATE TABLE {_table(table)}")).one())[1]
        await dst.exec_driver_sql(f"DROP TABLE IF EXISTS {_table(table)}")
        await dst.exec_driver_sql(str(definition))
    else:
        await dst.exec_driver_sql(f"DELETE FROM {_table(table)}")  # noqa: S608
    result = await src.stream(text(f"SELECT * FROM {_table(table)}"))  # noqa: S608 - a quoted table name
    columns = list(result.keys())
    # Quoted names of the tenant database's own tables and columns; the values are parameters.
    names = ", ".join(_table(c) for c in columns)
    insert = f"INSERT INTO {_table(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    async for batch in result.partitions(COPY_BATCH_ROWS):
        await dst.exec_driver_sql(insert, [tuple(row) for row in batch])
    await src.rollback()
    await dst.commit()
