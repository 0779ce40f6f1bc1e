"""Submissions of a tenant: validated answers pinned to a published version.

Members submit and see their own; a caller holding ``forms.submissions.review`` sees everyone's.
Someone else's submission is NOT_FOUND for the others, exactly like one that does not exist.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, Select, and_, bindparam, delete, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from tenantmesh.forms.v1 import events_pb2
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.forms.answers import (
    PublishedVersion,
    VersionCache,
    answer_violation,
    answerable_version,
    answers_invalid,
    filterable_fields,
    indexed_values,
    refuse_invalid,
)
from services.forms.audit import record
from services.forms.definitions import dumps
from services.forms.engine import Evaluation, evaluate_compiled
from services.forms.files import FileReferences, file_answers
from services.forms.filters import Clause, filter_invalid, parse_filter
from services.forms.forms import ARCHIVED
from services.forms.heads import FormHead, FormHeads, form_head
from services.forms.models import INDEXED_TEXT_LENGTH, FormRow, SubmissionRevisionRow, SubmissionRow, SubmissionValueRow
from services.forms.reasons import FormsReason
from services.forms.stored_answers import struct_bytes
from services.runtime.clock import utcnow
from services.runtime.context import current_principal, current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from services.runtime.events import Event
from services.runtime.ids import uuid7
from services.runtime.json_documents import json_path, pointer_parts
from services.runtime.paging import Page, page_of, page_request
from services.runtime.resources import bump_revision, check_etag, check_update_mask
from services.runtime.tenant_db import tenant_session
from services.runtime.unit_of_work import ConnectionWork, UnitOfWork

REVIEW_PERMISSION = "forms.submissions.review"
SUBMISSIONS: Any = SubmissionRow.__table__
_LISTED_AS_JSON = [column for column in SUBMISSIONS.c if column.name != "answers_struct"]
SUBMISSION_VALUES: Any = SubmissionValueRow.__table__
_FORM_ID = bindparam("form_id", type_=FormRow.form_id.type)
# A new submission, inserted only while its form is still the head its answers were checked
# against (the form's id and latest version), not archived.
_INSERT_SUBMISSION = insert(SubmissionRow).from_select(
    [column.key for column in SubmissionRow.__table__.columns],
    select(
        *(
            _FORM_ID if column.key == "form_id" else bindparam(column.key, type_=column.type)
            for column in SubmissionRow.__table__.columns
        )
    ).where(
        FormRow.form_id == _FORM_ID,
        FormRow.status != ARCHIVED,
        FormRow.latest_version == bindparam("latest_version", type_=FormRow.latest_version.type),
    ),
)
_INSERT_VALUES = insert(SUBMISSION_VALUES)
SUBMISSION_CREATED = "form.submission.created"
REVIEW_FIELDS = ("status", "note")
SUBMITTED = "SUBMITTED"
# The form's row as an edit of answers needs it, share-locked: not archived until the edit commits.
_EDITABLE_FORM = select(FormRow.form_id, FormRow.status, FormRow.allow_edits).with_for_update(read=True)


@dataclass(frozen=True)
class _Retry:
    """What a SubmitForm carrying a request_id asked for, to tell a retry from another request."""

    request_id: str
    key: str
    version: int
    answers: dict[str, Any]


class _FormChanged(Exception):
    """The form's head changed since the one a submission was checked against was read."""


def submission_not_found() -> NotFound:
    return NotFound("no such submission", reason=FormsReason.SUBMISSION_NOT_FOUND)


def _sees_everyone() -> bool:
    return current_principal().has_permission(REVIEW_PERMISSION)


@dataclass(frozen=True)
class Checked:
    form_id: str
    published: PublishedVersion
    evaluation: Evaluation

    @property
    def version(self) -> int:
        return self.published.version


@dataclass(frozen=True)
class SubmissionFilter:
    form_key: str = ""
    version: int = 0
    status: int = 0
    submitter: str = ""
    after: datetime | None = None
    before: datetime | None = None
    filter: str = ""
    newest_first: bool = True


class Submissions:
    def __init__(
        self, db: DatabaseRouter, work: UnitOfWork, files: FileReferences, cache: VersionCache, heads: FormHeads
    ) -> None:
        self._db = db
        self._work = work
        self._files = files
        self._cache = cache
        self._heads = heads

    async def validate(self, key: str, version: int, answers: dict[str, Any], locale: str) -> Checked:
        """SubmitForm's checks without storing; from a head and version read recently when there
        are (no database session then: services/forms/heads.py). ``answers``, read from the
        request's Struct, are evaluated in place (``owned``: not copied first)."""
        tenant_id = current_tenant().tenant_id
        head = self._heads.get(tenant_id, key)
        published = None
        if head is not None:
            published = self._cache.peek(tenant_id, head.form_id, answerable_version(head, version))
        if head is None or published is None:
            async with tenant_session(self._db) as session:
                head = await form_head(session, key)
                published = await self._cache.get(session, tenant_id, head.form_id, answerable_version(head, version))
            self._heads.put(tenant_id, head)
        evaluation = evaluate_compiled(
            published.compiled, answers, locale or published.compiled.default_locale, owned=True
        )
        return Checked(head.form_id, published, evaluation)

    async def _recent_head(self, session: AsyncSession, key: str) -> FormHead:
        """The head read in the last seconds, else from ``session``: for reads that store nothing
        (services/forms/heads.py)."""
        tenant_id = current_tenant().tenant_id
        head = self._heads.get(tenant_id, key)
        if head is None:
            head = await form_head(session, key)
            self._heads.put(tenant_id, head)
        return head

    async def _checked_files(
        self, session: AsyncSession | ConnectionWork, checked: Checked, submission_id: str
    ) -> list[str]:
        """Checks and binds the answers' files (in ``session``'s transaction, or a unit of work's);
        returns their references."""
        files = file_answers(checked.published.compiled, checked.evaluation.answers)
        if files:
            # In the submission's transaction: the files are bound to it only if it is stored.
            if isinstance(session, ConnectionWork):
                async with session.session() as joined:
                    refused = await self._files.check(joined, submission_id, files)
            else:
                refused = await self._files.check(session, submission_id, files)
            if refused:
                raise answers_invalid(
                    [
                        FieldViolation(
                            json_path("answers", pointer_parts(r.pointer)),
                            r.message,
                            r.reason,
                        )
                        for r in refused
                    ]
                )
        return [answer.reference for answer in files]

    async def submit(
        self, key: str, version: int, answers: dict[str, Any], request_id: str, locale: str
    ) -> tuple[SubmissionRow, str]:
        retry = _Retry(request_id, key, version, answers)
        if request_id:
            earlier = await self._earlier(retry)
            if earlier is not None:
                return earlier
        try:
            return await self._stored(key, version, answers, request_id, locale)
        except IntegrityError:
            # Only request_id is unique: the same retry raced this one, or another submitter used it.
            earlier = await self._earlier(retry) if request_id else None
            if earlier is None:
                raise
            return earlier

    async def _earlier(self, retry: _Retry) -> tuple[SubmissionRow, str] | None:
        """The submission a retry with ``request_id`` refers to: the caller's own, made by the same
        request; another submitter's request id, or one used for another form, version or answers,
        is refused, and says nothing of the submission."""
        async with tenant_session(self._db) as session:
            earlier = (
                await session.execute(select(SubmissionRow).where(SubmissionRow.request_id == retry.request_id))
            ).scalar_one_or_none()
            if earlier is None:
                return None
            key = await self._key_of(session, earlier)
            mine = earlier.submitter == current_principal().subject
            if not mine or not await self._repeats(session, earlier, key, retry):
                raise AlreadyExists("request_id was used for another request", reason=FormsReason.REQUEST_ID_REUSED)
            return earlier, key

    async def _repeats(self, session: AsyncSession, earlier: SubmissionRow, key: str, retry: _Retry) -> bool:
        """Whether ``retry`` is the request that stored ``earlier``: the same form and version, and
        answers that are stored as its first answers were (computed values filled in, hidden ones
        dropped, whatever edits came since)."""
        if key != retry.key or retry.version not in (0, earlier.version):
            return False
        published = await self._cache.get(session, current_tenant().tenant_id, earlier.form_id, earlier.version)
        evaluation = evaluate_compiled(published.compiled, retry.answers, published.compiled.default_locale)
        first = earlier.answers_json
        if earlier.revision_count:
            first = (
                await session.execute(
                    select(SubmissionRevisionRow.answers_json).where(
                        SubmissionRevisionRow.submission_id == earlier.submission_id,
                        SubmissionRevisionRow.revision == 1,
                    )
                )
            ).scalar_one()
        return bool(evaluation.answers == json.loads(first))

    async def _stored(
        self, key: str, version: int, answers: dict[str, Any], request_id: str, locale: str
    ) -> tuple[SubmissionRow, str]:
        """Stored against the form's head read in the last seconds when there is one (no query for
        it); if the form changed since, again against its head read in the transaction."""
        tenant_id = current_tenant().tenant_id
        recent = self._heads.get(tenant_id, key)
        if recent is not None:
            try:
                return await self._store(key, recent, version, answers, request_id, locale)
            except _FormChanged:
                self._heads.drop(tenant_id, key)
        try:
            return await self._store(key, None, version, answers, request_id, locale)
        except _FormChanged:
            # Not after a head read under a shared lock (see _store); should it happen, a retry is right.
            raise Aborted("the form changed while the submission was stored; try again") from None

    async def _store(
        self, key: str, recent: FormHead | None, version: int, answers: dict[str, Any], request_id: str, locale: str
    ) -> tuple[SubmissionRow, str]:
        """Stores the submission if the form takes it; raises _FormChanged if ``recent`` (a head read
        earlier, or None to read it here) is no longer the form's head.

        Whatever head the answers were checked against, the insert itself takes the submission only
        while the form is that head, not archived and at the same latest version (INSERT ... SELECT
        from the form's row): an archived form takes no submission however recently it was archived.
        """
        tenant_id = current_tenant().tenant_id
        subject = current_principal().subject
        submission_id = uuid7()
        # Core statements on the unit of work's connection: the ORM's unit-of-work machinery was
        # a large part of a submission's CPU, and a new row needs none of it.
        async with self._work.tenant_connection() as work:
            head = recent
            if head is None:
                # Under a shared lock: the form cannot change before this transaction commits.
                head = await form_head(work.conn, key, for_share=True)
                self._heads.put(tenant_id, head)
            try:
                answered = answerable_version(head, version)
            except (FailedPrecondition, NotFound):
                if recent is not None:
                    raise _FormChanged from None  # refused only on the head read in the transaction
                raise
            published = await self._cache.get(work.conn, tenant_id, head.form_id, answered)
            # Owned only on the last attempt: after a recent head's, the answers are evaluated again.
            evaluation = evaluate_compiled(
                published.compiled, answers, locale or published.compiled.default_locale, owned=recent is None
            )
            checked = Checked(head.form_id, published, evaluation)
            refuse_invalid(checked.evaluation)
            await self._checked_files(work, checked, submission_id)
            stored = checked.evaluation.answers
            now = utcnow()
            values = {
                "submission_id": submission_id,
                "form_id": checked.form_id,
                "version": checked.version,
                "answers_json": dumps(stored),
                "answers_struct": struct_bytes(stored),
                "status": SUBMITTED,
                "submitter": subject,
                "note": "",
                "revision_count": 0,
                "request_id": request_id or None,
                "revision": 1,
                "create_time": now,
                "update_time": now,
            }
            inserted = await work.conn.execute(_INSERT_SUBMISSION, {**values, "latest_version": head.latest_version})
            if inserted.rowcount != 1:
                raise _FormChanged
            await _index(work.conn, indexed_values(checked.form_id, submission_id, stored))
            payload = events_pb2.SubmissionCreated(
                submission_id=submission_id, form_key=key, version=checked.version, submitter=subject
            )
            work.emit(Event(SUBMISSION_CREATED, current_tenant().tenant_id, payload))
        return SubmissionRow(**values), key

    async def _visible(self, session: AsyncSession, submission_id: str, *, for_update: bool = False) -> SubmissionRow:
        query = select(SubmissionRow).where(SubmissionRow.submission_id == submission_id)
        if for_update:
            query = query.with_for_update()
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None or (not _sees_everyone() and row.submitter != current_principal().subject):
            raise submission_not_found()
        return row

    async def _key_of(self, session: AsyncSession, row: SubmissionRow) -> str:
        key = (await session.execute(select(FormRow.key).where(FormRow.form_id == row.form_id))).scalar_one_or_none()
        return key or ""

    async def get(self, submission_id: str) -> tuple[SubmissionRow, str]:
        async with tenant_session(self._db) as session:
            row = await self._visible(session, submission_id)
            return row, await self._key_of(session, row)

    async def list(
        self, page_size: int, page_token: str, wanted: SubmissionFilter, *, as_json: bool = False
    ) -> tuple[Page[Row[Any]], dict[str, str]]:
        """A page of submissions as rows of the ``submissions`` table's columns (a Core select: an
        ORM object per row cost more than the query); ``as_json``: without the answers' Struct
        bytes, which the JSON answer does not use (half of what a page reads)."""
        submitter = wanted.submitter if _sees_everyone() else current_principal().subject
        page, marker = page_request(page_size, page_token, "submissions", current_tenant().tenant_id, wanted, submitter)
        clauses = parse_filter(wanted.filter)
        async with tenant_session(self._db) as session:
            form: FormHead | None = None
            if wanted.form_key:
                form = await self._recent_head(session, wanted.form_key)
            elif clauses:
                raise filter_invalid("a filter on answers needs form_key")
            elif wanted.version:
                raise _needs_form()
            query = select(*(_LISTED_AS_JSON if as_json else SUBMISSIONS.c))
            key: Any = SUBMISSIONS.c.submission_id
            if form is not None:
                query = query.where(SUBMISSIONS.c.form_id == form.form_id)
                if clauses:
                    known = await filterable_fields(session, self._cache, current_tenant().tenant_id, form)
                    query, key = _with_clauses(query, form.form_id, clauses, known)
            query = _with_conditions(query, wanted, submitter)
            if page.after is not None:
                query = query.where(key < page.after if wanted.newest_first else key > page.after)
            order = key.desc() if wanted.newest_first else key
            connection = await session.connection()
            rows = list((await connection.execute(query.order_by(order).limit(page.limit))).all())
            if form is not None:
                keys = {form.form_id: form.key}
            else:
                keys = await _form_keys(session, {row.form_id for row in rows})
        return page_of(rows, page, marker, lambda row: str(row.submission_id)), keys

    async def review(self, submission: pb.Submission, mask: Sequence[str]) -> tuple[SubmissionRow, str]:
        check_update_mask(mask, REVIEW_FIELDS)
        values: dict[str, Any] = {}
        if "status" in mask:
            if submission.status == pb.SUBMISSION_STATUS_UNSPECIFIED:
                raise _status_required()
            values["status"] = pb.SubmissionStatus.Name(submission.status).removeprefix("SUBMISSION_STATUS_")
        if "note" in mask:
            values["note"] = submission.note
        async with self._work.tenant() as work:
            row = await self._visible(work.session, submission.submission_id, for_update=True)
            check_etag(row.revision, submission.etag, "submission")
            await bump_revision(work.session, row, "submission", **values)
        return await self.get(submission.submission_id)

    async def update_answers(
        self, submission_id: str, answers: dict[str, Any], etag: str, locale: str
    ) -> tuple[SubmissionRow, str]:
        """``answers``, read from the request's Struct, are evaluated in place."""
        # Files the new answers drop are detached and left to the sweeper: noted for it before the
        # transaction and again after its commit (services/forms/files/attachments.py).
        await self._files.prepare_release(submission_id)
        async with self._work.tenant() as work:
            session = work.session
            row = await self._visible(session, submission_id, for_update=True)
            check_etag(row.revision, etag, "submission")
            form = await _editable_form(session, row.form_id)
            published = await self._cache.get(session, current_tenant().tenant_id, form.form_id, row.version)
            evaluation = evaluate_compiled(
                published.compiled, answers, locale or published.compiled.default_locale, owned=True
            )
            if evaluation.violations:
                raise answers_invalid([answer_violation(v) for v in evaluation.violations])
            references = await self._checked_files(session, Checked(form.form_id, published, evaluation), submission_id)
            detached = await self._files.detach_unreferenced(session, submission_id, references)
            replaced = SubmissionRevisionRow(
                submission_id=submission_id,
                revision=row.revision_count + 1,
                version=row.version,
                answers_json=row.answers_json,
                editor=current_principal().subject,
                replace_time=utcnow(),
            )
            # The row first, conditional on the revision read: of two edits that read the same
            # revision (SQLite takes no row lock), the second is ABORTED here, before its revision
            # row could collide with the first's. Any edit of the answers sends a reviewed
            # submission back to SUBMITTED (even one that stores the same answers): a review
            # covers the answers it saw, and an edit is a new revision to look at.
            await bump_revision(
                session,
                row,
                "submission",
                answers_json=dumps(evaluation.answers),
                answers_struct=struct_bytes(evaluation.answers),
                revision_count=replaced.revision,
                status=SUBMITTED,
            )
            session.add(replaced)
            await session.execute(delete(SubmissionValueRow).where(SubmissionValueRow.submission_id == submission_id))
            await _index(await session.connection(), indexed_values(form.form_id, submission_id, evaluation.answers))
        await self._files.remind_released(detached)
        return await self.get(submission_id)

    async def revisions(self, submission_id: str) -> Sequence[SubmissionRevisionRow]:
        async with tenant_session(self._db) as session:
            await self._visible(session, submission_id)
            query = (
                select(SubmissionRevisionRow)
                .where(SubmissionRevisionRow.submission_id == submission_id)
                .order_by(SubmissionRevisionRow.revision.desc())
            )
            return list((await session.execute(query)).scalars())

    async def delete(self, submission_id: str, etag: str) -> None:
        # Its files are noted for the sweeper first, marked in the deleting transaction and
        # deleted after it commits (services/forms/files/attachments.py).
        doomed = await self._files.prepare_release(submission_id)
        async with self._work.tenant() as work:
            session = work.session
            row = await self._visible(session, submission_id, for_update=True)
            check_etag(row.revision, etag, "submission")
            form = await session.get(FormRow, row.form_id)
            for table in (SubmissionRevisionRow, SubmissionValueRow, SubmissionRow):
                await session.execute(delete(table).where(table.submission_id == submission_id))
            record(
                session,
                "submission.deleted",
                target=submission_id,
                details={"form": form.key if form is not None else "", "submitter": row.submitter},
            )
            await self._files.mark_released(session, submission_id)
        await self._files.purge(doomed)


async def _editable_form(session: AsyncSession, form_id: str) -> Row[str, str, bool]:
    """The form of a submission whose answers are edited: one that allows edits and still takes
    answers (an archived form takes neither new submissions nor changed ones)."""
    form = (await session.execute(_EDITABLE_FORM.where(FormRow.form_id == form_id))).one_or_none()
    if form is None or not form.allow_edits:
        raise FailedPrecondition(
            "the form does not allow answers to be edited", reason=FormsReason.SUBMISSION_NOT_EDITABLE
        )
    if form.status == ARCHIVED:
        raise FailedPrecondition(
            "the form is archived: its answers can no longer be edited", reason=FormsReason.FORM_ARCHIVED
        )
    return form


def _needs_form() -> InvalidArgument:
    return InvalidArgument("version needs form_key", violations=[FieldViolation("version", "only with form_key")])


def _status_required() -> InvalidArgument:
    return InvalidArgument("status must be set", violations=[FieldViolation("submission.status", "required")])


def _with_conditions(query: Select[Any], wanted: SubmissionFilter, submitter: str) -> Select[Any]:
    columns = SUBMISSIONS.c
    if wanted.version:
        query = query.where(columns.version == wanted.version)
    if wanted.status:
        query = query.where(
            columns.status == pb.SubmissionStatus.Name(wanted.status).removeprefix("SUBMISSION_STATUS_")
        )
    if submitter:
        query = query.where(columns.submitter == submitter)
    if wanted.after is not None:
        query = query.where(columns.create_time >= wanted.after)
    if wanted.before is not None:
        query = query.where(columns.create_time < wanted.before)
    return query


_COMPARISONS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(column: Any, op: str, value: Any) -> Any:
    return _COMPARISONS[op](column, value)


def _value_condition(values: Any, clause: Clause) -> Any:
    if isinstance(clause.value, bool):
        return _compare(values.value_text, clause.op, "true" if clause.value else "false")
    if isinstance(clause.value, str):
        return _compare(values.value_text, clause.op, clause.value[:INDEXED_TEXT_LENGTH])
    return _compare(values.value_number, clause.op, clause.value)


def _with_clauses(query: Select[Any], form_id: str, clauses: list[Clause], known: set[str]) -> tuple[Select[Any], Any]:
    """Each clause an index lookup on submission_values (form, field, value); returns the query and
    the column to order and page by.

    The first equality clause drives the query: its index entries are in submission id order after
    the value, so the newest (or oldest) matches come first without sorting the rest, and each costs
    one primary-key lookup of its submission. Other clauses are checked per row (EXISTS)."""
    for clause in clauses:
        if clause.field not in known:
            raise filter_invalid(
                f"the form has no top-level field {clause.field!r} to filter on", FormsReason.FILTER_FIELD_UNKNOWN
            )
    key: Any = SUBMISSIONS.c.submission_id
    driver = next((clause for clause in clauses if clause.op == "="), None)
    if driver is not None:
        values = _values_alias(0)
        query = query.join(values, values.c.submission_id == SUBMISSIONS.c.submission_id).where(
            values.c.form_id == form_id, values.c.field == driver.field, _value_condition(values.c, driver)
        )
        key = values.c.submission_id
    for index, clause in enumerate(clauses, start=1):
        if clause is driver:
            continue
        other = _values_alias(index)
        query = query.where(
            exists().where(
                and_(
                    other.c.form_id == form_id,
                    other.c.field == clause.field,
                    _value_condition(other.c, clause),
                    other.c.submission_id == SUBMISSIONS.c.submission_id,
                )
            )
        )
    return query, key


@functools.lru_cache(maxsize=32)
def _values_alias(index: int) -> Any:
    """``submission_values`` under the name of a query's ``index``-th use of it: made once, not
    for every listing (an alias builds its column collection, a third of building the query)."""
    return SUBMISSION_VALUES.alias(f"submission_values_{index}")


async def _index(connection: AsyncConnection, values: list[dict[str, Any]]) -> None:
    # Plain rows in one executemany: a form's dozens of values would cost a millisecond as ORM objects.
    if values:
        await connection.execute(_INSERT_VALUES, values)


async def _form_keys(session: AsyncSession, form_ids: set[str]) -> dict[str, str]:
    if not form_ids:
        return {}
    rows = await session.execute(select(FormRow.form_id, FormRow.key).where(FormRow.form_id.in_(form_ids)))
    return {form_id: key for form_id, key in rows}
