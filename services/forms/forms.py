"""Forms of a tenant: create, read, list, change the draft, publish versions, archive, delete.

Every operation acts on the current call's tenant, in its database. A form's draft is checked on
every save; publishing freezes it as the next immutable version with its content hash and the
compatibility report against the previous version. Nothing here ever rewrites a stored submission.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from tenantmesh.forms.v1 import events_pb2
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.forms.audit import record
from services.forms.definitions import checked, document_of, dumps, without_texts
from services.forms.engine import compatibility_report, content_hash
from services.forms.engine.proto import definition_message
from services.forms.files import FileReferences
from services.forms.heads import FormHeads, form_not_found
from services.forms.models import (
    FormRow,
    FormVersionRow,
    SubmissionRevisionRow,
    SubmissionRow,
    SubmissionValueRow,
)
from services.forms.reasons import FormsReason
from services.runtime.clock import utcnow
from services.runtime.context import current_principal, current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.events import Event
from services.runtime.ids import uuid7
from services.runtime.paging import Page, page_of, page_request
from services.runtime.resources import bump_revision, check_etag, check_update_mask
from services.runtime.tenant_db import tenant_session
from services.runtime.unit_of_work import UnitOfWork

UPDATABLE_FIELDS = ("title", "description", "labels", "draft", "allow_edits")
FORM_PUBLISHED = "form.published"
FORM_ARCHIVED = "form.archived"
FORM_UNARCHIVED = "form.unarchived"
FORM_DELETED = "form.deleted"
DRAFT, PUBLISHED, ARCHIVED = "DRAFT", "PUBLISHED", "ARCHIVED"


async def form_by_key(session: AsyncSession, key: str, *, for_update: bool = False) -> FormRow:
    query = select(FormRow).where(FormRow.key == key)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise form_not_found()
    return row


def _status_filter(status: int) -> str | None:
    return None if status == pb.FORM_STATUS_UNSPECIFIED else pb.FormStatus.Name(status).removeprefix("FORM_STATUS_")


@dataclass(frozen=True)
class NewForm:
    key: str
    title: str
    description: str
    labels: dict[str, str]
    definition: dict[str, Any]
    allow_edits: bool
    owning_service: str = ""
    contribution_hash: str = ""


def new_form(form: pb.Form) -> NewForm:
    """What a tenant's CreateForm asks for (its draft checked)."""
    if "." in form.key:
        raise InvalidArgument(
            "keys with a '.' are reserved for forms installed by services",
            reason=FormsReason.FORM_KEY_RESERVED,
            violations=[FieldViolation("form.key", "must not contain '.'", FormsReason.FORM_KEY_RESERVED)],
        )
    if not form.key:
        raise InvalidArgument("form.key is required", violations=[FieldViolation("form.key", "required")])
    return NewForm(
        key=form.key,
        title=form.title,
        description=form.description,
        labels=dict(form.labels),
        definition=checked(document_of(form.draft), "form.draft"),
        allow_edits=form.allow_edits,
    )


class Forms:
    def __init__(self, db: DatabaseRouter, work: UnitOfWork, heads: FormHeads, files: FileReferences) -> None:
        self._db = db
        self._work = work
        # Where a purge releases the files its submissions hold.
        self._files = files
        # Validation's cached heads: dropped after every change of a form's status or versions.
        self._heads = heads

    async def create(self, form: NewForm, request_id: str = "") -> FormRow:
        if request_id:
            async with tenant_session(self._db) as session:
                earlier = (
                    await session.execute(select(FormRow).where(FormRow.request_id == request_id))
                ).scalar_one_or_none()
            if earlier is not None:
                return earlier
        now = utcnow()
        row = FormRow(
            form_id=uuid7(),
            key=form.key,
            title=form.title,
            description=form.description,
            labels_json=dumps(form.labels),
            status=DRAFT,
            owning_service=form.owning_service,
            contribution_hash=form.contribution_hash,
            draft_json=dumps(form.definition),
            allow_edits=form.allow_edits,
            latest_version=0,
            request_id=request_id or None,
            revision=1,
            create_time=now,
            update_time=now,
        )
        try:
            async with self._work.tenant() as work:
                taken = (await work.session.execute(select(FormRow.form_id).where(FormRow.key == form.key))).first()
                if taken is not None:
                    raise _key_taken()
                work.session.add(row)
        except IntegrityError:
            if request_id:  # the same retry may have raced this one
                async with tenant_session(self._db) as session:
                    earlier = (
                        await session.execute(select(FormRow).where(FormRow.request_id == request_id))
                    ).scalar_one_or_none()
                if earlier is not None:
                    return earlier
            raise _key_taken() from None
        return row

    async def get(self, key: str) -> FormRow:
        async with tenant_session(self._db) as session:
            return await form_by_key(session, key)

    async def list(self, page_size: int, page_token: str, status: int, label: str, owner: str) -> Page[FormRow]:
        tenant_id = current_tenant().tenant_id
        page, marker = page_request(page_size, page_token, "forms", tenant_id, status, label, owner)
        query = select(FormRow).order_by(FormRow.key)
        wanted = _status_filter(status)
        if wanted is not None:
            query = query.where(FormRow.status == wanted)
        if owner:
            query = query.where(FormRow.owning_service == ("" if owner == "-" else owner))
        if page.after is not None:
            query = query.where(FormRow.key > page.after)
        name, _, value = label.partition("=")
        rows: list[FormRow] = []
        async with tenant_session(self._db) as session:
            # Labels are a small JSON map per form: filtered here, in pages of the key order.
            while len(rows) < page.limit:
                batch = list((await session.execute(query.limit(page.limit))).scalars())
                for row in batch:
                    labels = json.loads(row.labels_json)
                    if not label or (name in labels and ("=" not in label or labels[name] == value)):
                        rows.append(row)
                if len(batch) < page.limit:
                    break
                query = query.where(FormRow.key > batch[-1].key)
        return page_of(rows[: page.limit], page, marker, lambda row: row.key)

    async def update(self, form: pb.Form, mask: Sequence[str]) -> FormRow:
        return await self._update(form, mask, by_owner=False)

    async def _update(self, form: pb.Form, mask: Sequence[str], *, by_owner: bool) -> FormRow:
        check_update_mask(mask, UPDATABLE_FIELDS)
        values: dict[str, Any] = {}
        for field in mask:
            if field == "labels":
                values["labels_json"] = dumps(dict(form.labels))
            elif field == "draft":
                values["draft_json"] = dumps(checked(document_of(form.draft), "form.draft"))
            else:
                values[field] = getattr(form, field)
        async with self._work.tenant() as work:
            row = await form_by_key(work.session, form.key, for_update=True)
            check_etag(row.revision, form.etag, "form")
            if row.owning_service and "draft_json" in values and not by_owner:
                _only_texts_changed(row.draft_json, values["draft_json"])
            await bump_revision(work.session, row, "form", **values)
        return await self.get(form.key)

    async def publish(
        self, key: str, etag: str, *, contribution_hash: str | None = None, unarchive: bool = False
    ) -> tuple[FormRow, FormVersionRow]:
        """Freezes the draft as the next version; ``contribution_hash`` (an installed form's) is
        recorded in the same commit, so a contribution counts as installed only once published;
        ``unarchive`` takes an archived form back in use in that commit too."""
        extra = {} if contribution_hash is None else {"contribution_hash": contribution_hash}
        async with self._work.tenant() as work:
            row = await form_by_key(work.session, key, for_update=True)
            check_etag(row.revision, etag, "form")
            archived = row.status == ARCHIVED
            if archived and not unarchive:
                raise FailedPrecondition("an archived form cannot be published", reason=FormsReason.FORM_ARCHIVED)
            version = await self._freeze(work.session, row)
            await bump_revision(work.session, row, "form", status=PUBLISHED, latest_version=version.version, **extra)
            if archived:
                work.emit(_unarchived(row))
            work.emit(_published(row, version))
        self._heads.drop(current_tenant().tenant_id, key)
        return await self.get(key), version

    async def _freeze(self, session: AsyncSession, row: FormRow) -> FormVersionRow:
        draft = checked(json.loads(row.draft_json), "draft")  # checked at save; the engine may be stricter now
        digest = content_hash(draft)
        previous: dict[str, Any] | None = None
        if row.latest_version:
            last = await session.get(FormVersionRow, (row.form_id, row.latest_version))
            if last is not None:
                if last.content_hash == digest:
                    raise FailedPrecondition(
                        "the draft is the latest version already", reason=FormsReason.DRAFT_UNCHANGED
                    )
                previous = json.loads(last.definition_json)
        report = compatibility_report(previous, draft) if previous is not None else {"changes": [], "breaking": False}
        version = FormVersionRow(
            form_id=row.form_id,
            version=row.latest_version + 1,
            definition_json=row.draft_json,
            content_hash=digest,
            compatibility_json=dumps(report),
            publisher=current_principal_subject(),
            create_time=utcnow(),
        )
        session.add(version)
        return version

    async def list_versions(self, key: str, page_size: int, page_token: str) -> tuple[FormRow, Page[FormVersionRow]]:
        page, marker = page_request(page_size, page_token, "form-versions", current_tenant().tenant_id, key)
        async with tenant_session(self._db) as session:
            form = await form_by_key(session, key)
            query = (
                select(FormVersionRow)
                .where(FormVersionRow.form_id == form.form_id)
                .order_by(FormVersionRow.version.desc())
                .limit(page.limit)
            )
            if page.after is not None:
                query = query.where(FormVersionRow.version < _int_key(page.after))
            rows = list((await session.execute(query)).scalars())
        return form, page_of(rows, page, marker, lambda row: str(row.version))

    async def get_version(self, key: str, version: int) -> tuple[FormRow, FormVersionRow]:
        async with tenant_session(self._db) as session:
            form = await form_by_key(session, key)
            row = await session.get(FormVersionRow, (form.form_id, version or form.latest_version))
        if row is None:
            raise NotFound("the form has no such version", reason=FormsReason.FORM_VERSION_NOT_FOUND)
        return form, row

    async def archive(self, key: str, etag: str) -> FormRow:
        async with self._work.tenant() as work:
            row = await form_by_key(work.session, key, for_update=True)
            check_etag(row.revision, etag, "form")
            if row.status == ARCHIVED:
                raise FailedPrecondition("the form is archived already", reason=FormsReason.FORM_ARCHIVED)
            await bump_revision(work.session, row, "form", status=ARCHIVED)
            work.emit(archived_event(row))
        self._heads.drop(current_tenant().tenant_id, key)
        return await self.get(key)

    async def unarchive(self, key: str, etag: str) -> FormRow:
        async with self._work.tenant() as work:
            row = await form_by_key(work.session, key, for_update=True)
            check_etag(row.revision, etag, "form")
            if row.status != ARCHIVED:
                raise FailedPrecondition("the form is not archived", reason=FormsReason.FORM_NOT_ARCHIVED)
            await bump_revision(work.session, row, "form", status=PUBLISHED if row.latest_version else DRAFT)
            work.emit(_unarchived(row))
        self._heads.drop(current_tenant().tenant_id, key)
        return await self.get(key)

    async def delete(self, key: str, etag: str, purge: bool) -> int:
        # A purge releases the submissions' files as DeleteSubmission does: noted for the sweeper
        # first, marked in the deleting transaction, deleted after it commits.
        doomed = await self._files.prepare_release_all(_submissions_of(await self._form_id(key))) if purge else []
        async with self._work.tenant() as work:
            session = work.session
            row = await form_by_key(session, key, for_update=True)
            check_etag(row.revision, etag, "form")
            if row.owning_service:
                raise FailedPrecondition(
                    f"the form belongs to the service {row.owning_service}; disabling the service archives it",
                    reason=FormsReason.FORM_OWNED_BY_SERVICE,
                )
            count = (
                await session.execute(select(func.count()).where(SubmissionRow.form_id == row.form_id))
            ).scalar_one()
            if count and not purge:
                raise FailedPrecondition(
                    f"the form has {count} submission(s); delete them or purge",
                    reason=FormsReason.FORM_HAS_SUBMISSIONS,
                )
            if count:
                submissions = _submissions_of(row.form_id)
                await self._files.mark_all_released(session, submissions, doomed)
                await session.execute(
                    delete(SubmissionRevisionRow).where(SubmissionRevisionRow.submission_id.in_(submissions))
                )
                await session.execute(delete(SubmissionValueRow).where(SubmissionValueRow.form_id == row.form_id))
                await session.execute(delete(SubmissionRow).where(SubmissionRow.form_id == row.form_id))
                record(session, "form.purged", target=key, details={"submissions": count})
            await session.execute(delete(FormVersionRow).where(FormVersionRow.form_id == row.form_id))
            await session.execute(delete(FormRow).where(FormRow.form_id == row.form_id))
            payload = events_pb2.FormDeleted(form_key=key, purged_submissions=count)
            work.emit(Event(FORM_DELETED, current_tenant().tenant_id, payload))
        self._heads.drop(current_tenant().tenant_id, key)
        await self._files.purge(doomed)
        return int(count)

    async def _form_id(self, key: str) -> str:
        return (await self.get(key)).form_id

    async def install(self, form: NewForm) -> FormRow | None:
        """Installs (or brings up to date) a form a service contributes, published: a new form, or
        a new version when the contribution changed, or the archived form back in use. Idempotent:
        the contribution's hash is kept with the form. Returns the form when anything changed."""
        try:
            row = await self.get(form.key)
        except NotFound:
            row = await self.create(form)
            await self.publish(row.key, "")
            return await self.get(form.key)
        # The new hash is kept only with the publishing of its draft (or once nothing is left to
        # publish): a failure between the steps leaves the hash old, and the event's next delivery
        # does them again instead of taking the stored draft for the published contribution.
        contributed = row.contribution_hash != form.contribution_hash
        if contributed:
            draft = pb.Form(key=form.key, title=form.title, description=form.description, etag="")
            draft.draft.CopyFrom(definition_message(form.definition))
            await self._update(draft, ["title", "description", "draft"], by_owner=True)
        archived = row.status == ARCHIVED
        changed = contributed or archived
        if row.latest_version == 0 or changed:
            # An archived form is unarchived in the publishing's commit: unarchived alone first, a
            # failed publish would leave it in use, and the next delivery would find it so and
            # publish nothing.
            try:
                await self.publish(form.key, "", contribution_hash=form.contribution_hash, unarchive=True)
            except FailedPrecondition as error:
                if error.reason is not FormsReason.DRAFT_UNCHANGED:
                    raise
                if archived:
                    await self.unarchive(form.key, "")
                if contributed:
                    await self._set_contribution(form.key, form.contribution_hash)
        return await self.get(form.key) if changed or row.latest_version == 0 else None

    async def _set_contribution(self, key: str, digest: str) -> None:
        async with self._work.tenant() as work:
            row = await form_by_key(work.session, key, for_update=True)
            row.contribution_hash = digest

    async def archive_owned(self, service: str) -> Sequence[str]:
        """Archives the forms ``service`` installed (it was disabled); returns their keys."""
        async with tenant_session(self._db) as session:
            keys = list(
                (
                    await session.execute(
                        select(FormRow.key).where(FormRow.owning_service == service, FormRow.status != ARCHIVED)
                    )
                ).scalars()
            )
        for key in keys:
            await self.archive(key, "")
        return keys


def _submissions_of(form_id: str) -> Select[str]:
    return select(SubmissionRow.submission_id).where(SubmissionRow.form_id == form_id)


def current_principal_subject() -> str:
    return current_principal().subject


def _key_taken() -> AlreadyExists:
    return AlreadyExists("a form with this key exists", reason=FormsReason.FORM_KEY_TAKEN)


def _int_key(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _only_texts_changed(stored: str, proposed: str) -> None:
    if without_texts(json.loads(stored)) != without_texts(json.loads(proposed)):
        raise FailedPrecondition(
            "a form installed by a service takes only label, help text and placeholder changes",
            reason=FormsReason.FORM_OWNED_BY_SERVICE,
        )


def _published(row: FormRow, version: FormVersionRow) -> Event:
    report = json.loads(version.compatibility_json)
    payload = events_pb2.FormPublished(
        form_key=row.key,
        version=version.version,
        content_hash=version.content_hash,
        owning_service=row.owning_service,
        breaking=bool(report.get("breaking")),
    )
    return Event(FORM_PUBLISHED, current_tenant().tenant_id, payload)


def _unarchived(row: FormRow) -> Event:
    payload = events_pb2.FormUnarchived(form_key=row.key, owning_service=row.owning_service)
    return Event(FORM_UNARCHIVED, current_tenant().tenant_id, payload)


def archived_event(row: FormRow) -> Event:
    payload = events_pb2.FormArchived(form_key=row.key, owning_service=row.owning_service)
    return Event(FORM_ARCHIVED, current_tenant().tenant_id, payload)
