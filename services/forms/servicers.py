"""FormService and SubmissionService handlers: thin adapters between protobuf and the domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.api import httpbody_pb2
from google.protobuf import json_format
from sqlalchemy import Row
from tenantmesh.forms.v1 import form_service_pb2 as pb
from tenantmesh.forms.v1 import form_service_pb2_grpc as pb_grpc

from services.forms.answers import answer_violation
from services.forms.convert import (
    fill_submission,
    form_to_proto,
    revision_to_proto,
    submission_to_proto,
    submissions_page_json,
    version_to_proto,
)
from services.forms.engine import check_definition, generate_definition
from services.forms.engine.proto import definition_message
from services.forms.export import Exporter
from services.forms.forms import Forms, new_form
from services.forms.submissions import SubmissionFilter, Submissions
from services.runtime.json_documents import dict_to_struct, struct_to_dict
from services.runtime.paging import Page
from services.runtime.proto_values import requested_time
from services.runtime.rest_answers import json_text_body

Context = grpc.aio.ServicerContext[Any, Any]


class FormServicer(pb_grpc.FormServiceServicer):
    def __init__(self, forms: Forms) -> None:
        self._forms = forms

    async def CreateForm(self, request: pb.CreateFormRequest, context: Context) -> pb.CreateFormResponse:
        """Permission forms.forms.create. Reasons: FIELD_INVALID, DEFINITION_INVALID, FORM_KEY_RESERVED,
        FORM_KEY_TAKEN."""
        row = await self._forms.create(new_form(request.form), request.request_id)
        return pb.CreateFormResponse(form=form_to_proto(row))

    async def GetForm(self, request: pb.GetFormRequest, context: Context) -> pb.GetFormResponse:
        """Permission forms.forms.get. Reasons: FORM_NOT_FOUND."""
        return pb.GetFormResponse(form=form_to_proto(await self._forms.get(request.key)))

    async def ListForms(self, request: pb.ListFormsRequest, context: Context) -> pb.ListFormsResponse:
        """Permission forms.forms.list. Reasons: FIELD_INVALID, PAGE_TOKEN_INVALID."""
        page = await self._forms.list(
            request.page_size, request.page_token, request.status, request.label, request.owning_service
        )
        return pb.ListFormsResponse(forms=[form_to_proto(r) for r in page.items], next_page_token=page.next_page_token)

    async def UpdateForm(self, request: pb.UpdateFormRequest, context: Context) -> pb.UpdateFormResponse:
        """Permission forms.forms.update. Reasons: FORM_NOT_FOUND, ETAG_MISMATCH, FIELD_INVALID,
        DEFINITION_INVALID, FORM_OWNED_BY_SERVICE."""
        row = await self._forms.update(request.form, list(request.update_mask.paths))
        return pb.UpdateFormResponse(form=form_to_proto(row))

    async def PublishForm(self, request: pb.PublishFormRequest, context: Context) -> pb.PublishFormResponse:
        """Permission forms.forms.publish. Reasons: FORM_NOT_FOUND, ETAG_MISMATCH, FORM_ARCHIVED,
        DRAFT_UNCHANGED, DEFINITION_INVALID."""
        form, version = await self._forms.publish(request.key, request.etag)
        return pb.PublishFormResponse(form=form_to_proto(form), version=version_to_proto(version, form.key))

    async def ListFormVersions(
        self, request: pb.ListFormVersionsRequest, context: Context
    ) -> pb.ListFormVersionsResponse:
        """Permission forms.forms.get. Reasons: FORM_NOT_FOUND, FIELD_INVALID, PAGE_TOKEN_INVALID."""
        form, page = await self._forms.list_versions(request.key, request.page_size, request.page_token)
        return pb.ListFormVersionsResponse(
            versions=[version_to_proto(r, form.key) for r in page.items], next_page_token=page.next_page_token
        )

    async def GetFormVersion(self, request: pb.GetFormVersionRequest, context: Context) -> pb.GetFormVersionResponse:
        """Permission forms.forms.get. Reasons: FORM_NOT_FOUND, FORM_VERSION_NOT_FOUND."""
        form, version = await self._forms.get_version(request.key, request.version)
        return pb.GetFormVersionResponse(version=version_to_proto(version, form.key))

    async def ArchiveForm(self, request: pb.ArchiveFormRequest, context: Context) -> pb.ArchiveFormResponse:
        """Permission forms.forms.archive. Reasons: FORM_NOT_FOUND, ETAG_MISMATCH, FORM_ARCHIVED."""
        return pb.ArchiveFormResponse(form=form_to_proto(await self._forms.archive(request.key, request.etag)))

    async def UnarchiveForm(self, request: pb.UnarchiveFormRequest, context: Context) -> pb.UnarchiveFormResponse:
        """Permission forms.forms.archive. Reasons: FORM_NOT_FOUND, ETAG_MISMATCH, FORM_NOT_ARCHIVED."""
        return pb.UnarchiveFormResponse(form=form_to_proto(await self._forms.unarchive(request.key, request.etag)))

    async def DeleteForm(self, request: pb.DeleteFormRequest, context: Context) -> pb.DeleteFormResponse:
        """Permission forms.forms.delete. Reasons: FORM_NOT_FOUND, ETAG_MISMATCH, FORM_HAS_SUBMISSIONS,
        FORM_OWNED_BY_SERVICE."""
        purged = await self._forms.delete(request.key, request.etag, request.purge)
        return pb.DeleteFormResponse(purged_submissions=purged)

    async def GenerateForm(self, request: pb.GenerateFormRequest, context: Context) -> pb.GenerateFormResponse:
        """Permission forms.forms.create. Reasons: FIELD_INVALID."""
        document = generate_definition(struct_to_dict(request.json_schema, "json_schema"))
        problems = check_definition(document)
        response = pb.GenerateFormResponse(
            problems=[
                pb.DefinitionProblem(pointer=p.pointer, reason=p.reason.value, message=p.message) for p in problems
            ]
        )
        try:
            response.definition.CopyFrom(definition_message(document))
        except json_format.ParseError:
            # Only reachable with problems listed: a schema that does not fit the message shape.
            response.definition.schema.CopyFrom(dict_to_struct(document["schema"]))
        return response


class SubmissionServicer(pb_grpc.SubmissionServiceServicer):
    def __init__(self, submissions: Submissions, exporter: Exporter) -> None:
        self._submissions = submissions
        self._exporter = exporter

    async def SubmitForm(self, request: pb.SubmitFormRequest, context: Context) -> pb.SubmitFormResponse:
        """Permission forms.submissions.create. Reasons: FORM_NOT_FOUND, FORM_VERSION_NOT_FOUND,
        FORM_NOT_PUBLISHED, FORM_ARCHIVED, ANSWERS_INVALID, FIELD_INVALID, REQUEST_ID_REUSED."""
        answers = struct_to_dict(request.answers, "answers")
        row, key = await self._submissions.submit(
            request.form_key, request.version, answers, request.request_id, request.locale
        )
        return pb.SubmitFormResponse(submission=submission_to_proto(row, key))

    async def ValidateSubmission(
        self, request: pb.ValidateSubmissionRequest, context: Context
    ) -> pb.ValidateSubmissionResponse:
        """Permission forms.submissions.create. Reasons: FORM_NOT_FOUND, FORM_VERSION_NOT_FOUND,
        FORM_NOT_PUBLISHED, FORM_ARCHIVED."""
        answers = struct_to_dict(request.answers, "answers")
        checked = await self._submissions.validate(request.form_key, request.version, answers, request.locale)
        evaluation = checked.evaluation
        return pb.ValidateSubmissionResponse(
            valid=evaluation.valid,
            violations=[
                pb.AnswerViolation(
                    field=answer_violation(v).field,
                    pointer=v.pointer,
                    keyword=v.keyword,
                    rule=v.rule,
                    message=v.message,
                )
                for v in evaluation.violations
            ],
            answers=dict_to_struct(evaluation.answers),
            visible=evaluation.visible,
            required=evaluation.required,
            version=checked.version,
        )

    async def GetSubmission(self, request: pb.GetSubmissionRequest, context: Context) -> pb.GetSubmissionResponse:
        """Permission forms.submissions.get. Reasons: SUBMISSION_NOT_FOUND."""
        row, key = await self._submissions.get(request.submission_id)
        return pb.GetSubmissionResponse(submission=submission_to_proto(row, key))

    async def ListSubmissions(self, request: pb.ListSubmissionsRequest, context: Context) -> pb.ListSubmissionsResponse:
        """Permission forms.submissions.list. Reasons: FORM_NOT_FOUND, FIELD_INVALID, PAGE_TOKEN_INVALID,
        FILTER_INVALID, FILTER_FIELD_UNKNOWN."""
        page, keys = await self._listed(request)
        response = pb.ListSubmissionsResponse(next_page_token=page.next_page_token)
        for row in page.items:
            fill_submission(response.submissions.add(), row, keys.get(row.form_id, ""))
        return response

    async def ListSubmissionsJson(self, request: pb.ListSubmissionsRequest, context: Context) -> httpbody_pb2.HttpBody:
        """Permission forms.submissions.list. Reasons: FORM_NOT_FOUND, FIELD_INVALID, PAGE_TOKEN_INVALID,
        FILTER_INVALID, FILTER_FIELD_UNKNOWN. ListSubmissions' answer as the JSON the edge would print
        of it, with each submission's answers as stored."""
        page, keys = await self._listed(request, as_json=True)
        listed = ((row, keys.get(row.form_id, "")) for row in page.items)
        return json_text_body(submissions_page_json(listed, page.next_page_token))

    async def _listed(
        self, request: pb.ListSubmissionsRequest, *, as_json: bool = False
    ) -> tuple[Page[Row[Any]], dict[str, str]]:
        wanted = SubmissionFilter(
            form_key=request.form_key,
            version=request.version,
            status=request.status,
            submitter=request.submitter,
            after=requested_time(request, "submitted_after"),
            before=requested_time(request, "submitted_before"),
            filter=request.filter,
            newest_first=request.order_by not in ("create_time", "create_time asc"),
        )
        return await self._submissions.list(request.page_size, request.page_token, wanted, as_json=as_json)

    async def ReviewSubmission(
        self, request: pb.ReviewSubmissionRequest, context: Context
    ) -> pb.ReviewSubmissionResponse:
        """Permission forms.submissions.review. Reasons: SUBMISSION_NOT_FOUND, ETAG_MISMATCH, FIELD_INVALID."""
        row, key = await self._submissions.review(request.submission, list(request.update_mask.paths))
        return pb.ReviewSubmissionResponse(submission=submission_to_proto(row, key))

    async def UpdateSubmission(
        self, request: pb.UpdateSubmissionRequest, context: Context
    ) -> pb.UpdateSubmissionResponse:
        """Permission forms.submissions.update. Reasons: SUBMISSION_NOT_FOUND, ETAG_MISMATCH,
        SUBMISSION_NOT_EDITABLE, FORM_ARCHIVED, ANSWERS_INVALID."""
        answers = struct_to_dict(request.answers, "answers")
        row, key = await self._submissions.update_answers(request.submission_id, answers, request.etag, request.locale)
        return pb.UpdateSubmissionResponse(submission=submission_to_proto(row, key))

    async def ListSubmissionRevisions(
        self, request: pb.ListSubmissionRevisionsRequest, context: Context
    ) -> pb.ListSubmissionRevisionsResponse:
        """Permission forms.submissions.get. Reasons: SUBMISSION_NOT_FOUND."""
        rows = await self._submissions.revisions(request.submission_id)
        return pb.ListSubmissionRevisionsResponse(revisions=[revision_to_proto(r) for r in rows])

    async def DeleteSubmission(
        self, request: pb.DeleteSubmissionRequest, context: Context
    ) -> pb.DeleteSubmissionResponse:
        """Permission forms.submissions.delete. Reasons: SUBMISSION_NOT_FOUND, ETAG_MISMATCH."""
        await self._submissions.delete(request.submission_id, request.etag)
        return pb.DeleteSubmissionResponse()

    async def ExportSubmissions(
        self, request: pb.ExportSubmissionsRequest, context: Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        """Permission forms.submissions.export. Reasons: FORM_NOT_FOUND, FIELD_INVALID."""
        ndjson = request.format == pb.EXPORT_FORMAT_NDJSON
        async for content_type, data in self._exporter.export(request.form_key, ndjson):
            yield httpbody_pb2.HttpBody(content_type=content_type, data=data)
