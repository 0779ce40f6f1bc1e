"""Tenant operations: the domain behind TenantService's handlers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.clock import utcnow
from services.runtime.context import PLATFORM_TENANT_ID, TenantContext
from services.runtime.db import (
    DatabaseRouter,
    MigrationSet,
    TenantDatabase,
    current_revision,
    database_after,
    tenant_database_name,
)
from services.runtime.errors import (
    AlreadyExists,
    CommonReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.runtime.events import Event
from services.runtime.ids import uuid7
from services.runtime.paging import Page, page_of, page_request
from services.runtime.resources import bump_revision, check_etag, check_update_mask
from services.runtime.unit_of_work import UnitOfWork
from services.tenants import repository as repo
from services.tenants.identity import verify_identity
from services.tenants.models import ProvisioningStepRow, TenantMoveRow, TenantRow
from services.tenants.placement import ServerPlacement
from services.tenants.provisioning import Provisioner
from services.tenants.reasons import TenantsReason
from services.tenants.repository import TenantRecord
from services.tenants.states import VISIBLE_STATES, StepState, TenantState

UPDATABLE_FIELDS = ("display_name", "plan", "labels", "settings")


@dataclass(frozen=True)
class TenantSpec:
    slug: str
    display_name: str = ""
    plan: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)


def _not_found() -> NotFound:
    return NotFound("no such tenant", reason=CommonReason.TENANT_NOT_FOUND)


def _state_conflict(row: TenantRow, action: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"cannot {action} a tenant in state {row.state}",
        reason=TenantsReason.TENANT_STATE_CONFLICT,
        metadata={"state": row.state},
    )


def _refuse_platform_tenant(tenant_id: str, action: str) -> None:
    # Suspending or deleting it would lock every administrator out of the platform.
    if tenant_id == PLATFORM_TENANT_ID:
        raise FailedPrecondition(
            f"the platform tenant cannot be subject to {action}", reason=TenantsReason.PLATFORM_TENANT_PROTECTED
        )


async def _refuse_moving_tenant(session: AsyncSession, tenant_id: str) -> None:
    # Its database is on two servers until the move finishes; the purge knows only one of them.
    # The tenant row is locked, as the mover locks it to start a move, so none starts meanwhile.
    step = await session.scalar(select(TenantMoveRow.step).where(TenantMoveRow.tenant_id == tenant_id))
    if step is not None and step != "done":
        raise FailedPrecondition(
            "the tenant's database is being moved to another server; finish the move "
            "(tenantctl tenants move TENANT --to SERVER) or abandon it (tenantctl tenants move TENANT --abort), "
            "then delete the tenant",
            reason=TenantsReason.TENANT_MOVE_UNFINISHED,
            metadata={"move_step": step},
        )


class TenantManager:
    def __init__(
        self,
        db: DatabaseRouter,
        provisioner: Provisioner,
        work: UnitOfWork,
        tenant_migrations: MigrationSet,
        *,
        placement: ServerPlacement,
        lease_seconds: float,
    ) -> None:
        self._db, self._provisioner, self._work = db, provisioner, work
        self._tenant_migrations = tenant_migrations
        # Where new tenants go, and how long their provisioning may hold them.
        self._placement, self._lease_seconds = placement, lease_seconds

    async def create(self, spec: TenantSpec, request_id: str) -> TenantRecord:
        if not spec.slug:
            raise InvalidArgument(
                "a tenant needs a slug", violations=[FieldViolation("tenant.slug", "value is required")]
            )
        record = self._new_record(spec, request_id, await self._choose_server())
        try:
            await self._insert_record(record)
        except IntegrityError as exc:
            return await self._create_conflict(spec, request_id, exc)
        tenant_id = record.row.tenant_id
        activated = await self._provisioner.provision(tenant_id, record)
        return activated if activated is not None else await self.get(tenant_id)

    async def _insert(self, spec: TenantSpec, request_id: str) -> str:
        """What create does before provisioning: the tenant, PROVISIONING, under lease; returns its id."""
        record = self._new_record(spec, request_id, await self._choose_server())
        await self._insert_record(record)
        return record.row.tenant_id

    async def _insert_record(self, record: TenantRecord) -> None:
        async with self._db.core_transaction() as conn:
            # The worker's lease, on the clock the reconcilers judge it by.
            record.row.lease_until = await database_after(conn, self._lease_seconds)
            await repo.insert_tenant(conn, record)
            await conn.commit()

    async def _create_conflict(self, spec: TenantSpec, request_id: str, error: IntegrityError) -> TenantRecord:
        """The request id is taken (a retry: it gets the first attempt's outcome), or the slug is."""
        if request_id:
            replay = await self._replay(request_id)
            if replay is not None:
                return replay
        async with self._db.core_session() as session:
            if await repo.get_row_by_slug(session, spec.slug) is None:
                raise error
        raise AlreadyExists(
            "a tenant with this slug exists", reason=TenantsReason.TENANT_SLUG_TAKEN, metadata={"slug": spec.slug}
        ) from None

    async def _replay(self, request_id: str) -> TenantRecord | None:
        """The outcome of an earlier create with the same request id, if there was one."""
        async with self._db.core_session() as session:
            row = await repo.get_row_by_request_id(session, request_id)
            if row is None:
                return None
            if row.state == TenantState.PROVISIONING:
                raise Unavailable("this tenant is still being provisioned", reason=TenantsReason.TENANT_PROVISIONING)
            # A FAILED create released its request id (see Provisioner.roll_back): not found here.
            return await repo.load_record(session, row)

    async def _choose_server(self) -> str:
        async with self._db.core_session() as session:
            return await self._placement.choose(session)

    def _new_record(self, spec: TenantSpec, request_id: str, server: str) -> TenantRecord:
        now = utcnow()
        row = TenantRow(
            tenant_id=uuid7(),
            slug=spec.slug,
            former_slug=spec.slug,
            display_name=spec.display_name or spec.slug,
            state=TenantState.PROVISIONING,
            plan=spec.plan,
            settings_json=json.dumps(dict(spec.settings), sort_keys=True),
            db_server=server,
            db_name=tenant_database_name(spec.slug, self._db.tenant_db_prefix),
            db_writes_frozen=False,
            failure_reason="",
            revision=1,
            create_request_id=request_id or None,
            lease_until=None,  # set on the database's clock when inserted
            create_time=now,
            update_time=now,
            delete_time=None,
        )
        steps = [
            ProvisioningStepRow(
                tenant_id=row.tenant_id,
                step=name,
                position=i,
                state=StepState.PENDING,
                schema_version="",
                update_time=now,
            )
            for i, name in enumerate(self._provisioner.step_names)
        ]
        return TenantRecord(row=row, labels=dict(spec.labels), steps=steps)

    async def get(self, tenant_id: str) -> TenantRecord:
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
            if row is None or row.state == TenantState.DELETED:
                raise _not_found()
            return await repo.load_record(session, row)

    async def current(self, tenant: TenantContext) -> tuple[TenantRecord, str]:
        """The call's own tenant and the tenants service's schema version in its database, after
        checking that the database is that tenant's."""
        await verify_identity(self._db, tenant)
        record = await self.get(tenant.tenant_id)
        version = await current_revision(self._db, self._tenant_migrations, tenant.database)
        return record, version or ""

    async def get_by_slug(self, slug: str) -> TenantRecord:
        async with self._db.core_session() as session:
            row = await repo.get_row_by_slug(session, slug)
            if row is None or row.state == TenantState.DELETED:
                raise _not_found()
            return await repo.load_record(session, row)

    async def list(
        self, *, page_size: int, page_token: str, states: Sequence[str], labels: Sequence[str]
    ) -> Page[TenantRecord]:
        wanted_states = sorted(set(states)) or list(VISIBLE_STATES)
        wanted_labels = dict(item.split("=", 1) for item in labels)
        page, marker = page_request(page_size, page_token, wanted_states, sorted(wanted_labels.items()))
        async with self._db.core_session() as session:
            rows = await repo.list_rows(
                session, states=wanted_states, labels=wanted_labels, after=page.after, limit=page.limit
            )
            shown = page_of(rows, page, marker, lambda row: row.tenant_id)
            return Page(await repo.load_records(session, shown.items), shown.next_page_token)

    async def update(self, tenant_id: str, etag: str, mask: Sequence[str], spec: TenantSpec) -> TenantRecord:
        check_update_mask(mask, UPDATABLE_FIELDS)
        async with self._work.core() as work:
            session = work.session
            row = await self._row_for_change(session, tenant_id, etag)
            if row.state not in (TenantState.ACTIVE, TenantState.SUSPENDED):
                raise _state_conflict(row, "update")
            values: dict[str, object] = {}
            if "display_name" in mask:
                values["display_name"] = spec.display_name or row.former_slug
            if "plan" in mask:
                values["plan"] = spec.plan
            if "settings" in mask:
                values["settings_json"] = json.dumps(dict(spec.settings), sort_keys=True)
            if "labels" in mask:
                await repo.replace_labels(session, tenant_id, spec.labels)
            await bump_revision(session, row, "tenant", **values)
            work.emit(Event("tenant.updated", tenant_id))
        return await self.get(tenant_id)

    async def suspend(self, tenant_id: str, etag: str) -> TenantRecord:
        _refuse_platform_tenant(tenant_id, "suspend")
        async with self._work.core() as work:
            row = await self._row_for_change(work.session, tenant_id, etag)
            if row.state == TenantState.SUSPENDED:
                return await repo.load_record(work.session, row)
            if row.state != TenantState.ACTIVE:
                raise _state_conflict(row, "suspend")
            await bump_revision(work.session, row, "tenant", state=TenantState.SUSPENDED)
            work.emit(Event("tenant.suspended", tenant_id))
        return await self.get(tenant_id)

    async def resume(self, tenant_id: str, etag: str) -> TenantRecord:
        async with self._work.core() as work:
            row = await self._row_for_change(work.session, tenant_id, etag)
            if row.state != TenantState.SUSPENDED:
                raise _state_conflict(row, "resume")
            await bump_revision(work.session, row, "tenant", state=TenantState.ACTIVE)
            work.emit(Event("tenant.resumed", tenant_id))
        return await self.get(tenant_id)

    async def delete(self, tenant_id: str, etag: str) -> TenantRecord:
        _refuse_platform_tenant(tenant_id, "delete")
        async with self._work.core() as work:
            row = await self._row_for_change(work.session, tenant_id, etag)
            if row.state == TenantState.PROVISIONING:
                raise _state_conflict(row, "delete")
            failed = row.state == TenantState.FAILED
            if row.state in (TenantState.ACTIVE, TenantState.SUSPENDED):
                await _refuse_moving_tenant(work.session, tenant_id)
            if failed:
                # Nothing was kept of a failed tenant but its record.
                await bump_revision(work.session, row, "tenant", state=TenantState.DELETED, delete_time=utcnow())
            elif row.state != TenantState.DELETING:
                lease_until = await database_after(work.session, self._lease_seconds)
                await bump_revision(work.session, row, "tenant", state=TenantState.DELETING, lease_until=lease_until)
                work.emit(Event("tenant.deleting", tenant_id))
        if failed:
            return await self._tombstone(tenant_id)
        # Services refuse the tenant from here on (the event went out with the commit), before its data is gone.
        await self._provisioner.purge(tenant_id)
        return await self._tombstone(tenant_id)

    async def _tombstone(self, tenant_id: str) -> TenantRecord:
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
            if row is None:
                raise _not_found()
            return await repo.load_record(session, row)

    async def _row_for_change(self, session: AsyncSession, tenant_id: str, etag: str) -> TenantRow:
        row = await repo.get_row(session, tenant_id, for_update=True)
        if row is None or row.state == TenantState.DELETED:
            raise _not_found()
        check_etag(row.revision, etag, "tenant")
        return row


class LocalTenantDirectory:
    """The tenants service's own view of tenants, for its tenant-scoped RPCs."""

    def __init__(self, db: DatabaseRouter) -> None:
        self._db = db

    async def lookup(self, tenant_id: str) -> TenantContext | None:
        async with self._db.core_session() as session:
            row = await repo.get_row(session, tenant_id)
        if row is None:
            return None
        return TenantContext(
            tenant_id=row.tenant_id,
            slug=row.slug or row.former_slug,
            state=TenantState(row.state),
            database=TenantDatabase(server=row.db_server, name=row.db_name, writes_frozen=row.db_writes_frozen),
        )
