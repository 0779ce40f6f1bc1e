"""Rows to protobuf messages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from json.encoder import encode_basestring as _string
from typing import Any, Protocol

from google.protobuf import json_format
from tenantmesh.forms.v1 import form_pb2
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.forms.definitions import message_of
from services.forms.models import FormRow, FormVersionRow, SubmissionRevisionRow
from services.forms.stored_answers import fill_answers
from services.runtime.json_documents import dict_to_struct
from services.runtime.proto_values import copy_fields, etag_of, timestamp, timestamp_json
from services.runtime.resources import stamps


def form_to_proto(row: FormRow, *, with_draft: bool = True) -> pb.Form:
    form = pb.Form(
        **copy_fields(row, "key", "title", "description", "owning_service", "latest_version", "allow_edits"),
        labels=json.loads(row.labels_json),
        status=f"FORM_STATUS_{row.status}",
        **stamps(row),
    )
    if with_draft:
        form.draft.CopyFrom(message_of(row.draft_json))
    return form


def version_to_proto(row: FormVersionRow, form_key: str) -> pb.FormVersion:
    compatibility = form_pb2.CompatibilityReport()
    json_format.ParseDict(json.loads(row.compatibility_json), compatibility)
    return pb.FormVersion(
        form_key=form_key,
        version=row.version,
        definition=message_of(row.definition_json),
        content_hash=row.content_hash,
        compatibility=compatibility,
        publisher=row.publisher,
        create_time=timestamp(row.create_time),
    )


class SubmissionColumns(Protocol):
    """The columns a submission's JSON document is made of (ListSubmissionsJson): a row of a
    select of just those columns."""

    @property
    def submission_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def answers_json(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def submitter(self) -> str: ...
    @property
    def note(self) -> str: ...
    @property
    def revision_count(self) -> int: ...
    @property
    def revision(self) -> int: ...
    @property
    def create_time(self) -> datetime: ...
    @property
    def update_time(self) -> datetime: ...


class StoredSubmission(SubmissionColumns, Protocol):
    """The columns a Submission message is made of: a ``SubmissionRow``, or a row of a select of
    just those columns (a listing: no ORM object per submission)."""

    @property
    def answers_struct(self) -> bytes | None: ...


def submission_to_proto(row: StoredSubmission, form_key: str) -> pb.Submission:
    submission = pb.Submission()
    fill_submission(submission, row, form_key)
    return submission


def fill_submission(submission: pb.Submission, row: StoredSubmission, form_key: str) -> None:
    """Writes ``row`` into an empty ``submission`` in place. A list fills the messages its answer
    already holds (``submissions.add()``): built apart and passed in, each submission and its
    answers' Struct would be copied once more."""
    submission.MergeFrom(
        # Named one by one, not with copy_fields/stamps: their getattr/hasattr probing costs a
        # caught exception per missing name on a select's row, for every row of a page.
        pb.Submission(
            submission_id=row.submission_id,
            form_key=form_key,
            version=row.version,
            status=f"SUBMISSION_STATUS_{row.status}",
            submitter=row.submitter,
            note=row.note,
            revision_count=row.revision_count,
            create_time=timestamp(row.create_time),
            update_time=timestamp(row.update_time),
            etag=etag_of(row.revision),
        )
    )
    fill_answers(submission.answers, row.answers_struct, row.answers_json)


def submissions_page_json(submissions: Iterable[tuple[SubmissionColumns, str]], next_page_token: str) -> str:
    """A page of (submission, its form's key) as the edge prints ListSubmissionsResponse
    (ListSubmissionsJson): each submission's fields as :func:`fill_submission` sets them, under
    the edge's names and print rules, with its answers spliced in as stored (``answers_json``
    holds the document their Struct bytes hold), so no answer is parsed or printed again."""
    listed = ",".join(_submission_json(row, form_key) for row, form_key in submissions)
    return f'{{"submissions":[{listed}],"nextPageToken":{_dumps(next_page_token)}}}'


def _submission_json(row: SubmissionColumns, form_key: str) -> str:
    # Written out field by field: a dict through json.dumps per submission (an encoder built for
    # each) was a fifth of a listing's CPU. Strings are encoded as json.dumps encodes them
    # (UTF-8 as it is); the version and counts are ints, the timestamps plain ASCII.
    created = timestamp_json(row.create_time)
    updated = created if row.update_time == row.create_time else timestamp_json(row.update_time)
    return (
        f'{{"submissionId":{_string(row.submission_id)},"formKey":{_string(form_key)},'
        f'"version":{int(row.version)},"status":{_string(f"SUBMISSION_STATUS_{row.status}")},'
        f'"submitter":{_string(row.submitter)},"note":{_string(row.note)},'
        f'"revisionCount":{int(row.revision_count)},"createTime":"{created}","updateTime":"{updated}",'
        f'"etag":{_string(etag_of(row.revision))},"answers":{row.answers_json}}}'
    )


def _dumps(value: Any) -> str:
    # The edge's printing: UTF-8 as it is, no spaces.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def revision_to_proto(row: SubmissionRevisionRow) -> pb.SubmissionRevision:
    return pb.SubmissionRevision(
        revision=row.revision,
        version=row.version,
        answers=dict_to_struct(json.loads(row.answers_json)),
        editor=row.editor,
        replace_time=timestamp(row.replace_time),
    )
