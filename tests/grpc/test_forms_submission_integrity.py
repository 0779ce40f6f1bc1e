"""What a submitter cannot get away with: a request id that names another request, edits of answers
a review covered or a closed form no longer takes, two edits of the same revision, and answer
filters that compare other than exactly."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.runtime.json_documents import dict_to_struct
from tests.grpc.test_forms_submissions import publish_sample, stored_rows, submit
from tests.support.errors import expect_error, reason_of
from tests.support.forms import forms_world


def edit(submission: pb.Submission, name: str, *, etag: str = "") -> pb.UpdateSubmissionRequest:
    return pb.UpdateSubmissionRequest(
        submission_id=submission.submission_id, answers=dict_to_struct({"name": name}), etag=etag
    )


async def test_a_request_id_returns_only_the_request_it_was_first_used_for(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw, allow_edits=True)
        await publish_sample(fw, "other")
        member = fw.as_("member_a")
        request_id = str(uuid.uuid4())
        answers = {"name": "Ada", "items": [{"qty": 2}]}
        first = await fw.submissions.SubmitForm(submit("intake", answers, request_id=request_id), metadata=member)
        # Another form, another version or other answers under the same id are not a retry: refused,
        # never answered with the first submission (a submission to "other" that was not stored).
        for other in (
            submit("other", answers, request_id=request_id),
            submit("intake", answers, request_id=request_id, version=2),
            submit("intake", {"name": "Bo"}, request_id=request_id),
        ):
            await expect_error(
                fw.submissions.SubmitForm(other, metadata=member), grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED"
            )
        assert len(await stored_rows(fw, fw.world.tenant_a)) == 1
        # The same request again, its computed total sent as the server computed it, or its version
        # named: the first submission, even after its answers were edited.
        await fw.submissions.UpdateSubmission(edit(first.submission, "Ada L."), metadata=member)
        for retry in (
            submit("intake", answers, request_id=request_id),
            submit("intake", {**answers, "total": 2}, request_id=request_id, version=1),
        ):
            again = await fw.submissions.SubmitForm(retry, metadata=member)
            assert again.submission.submission_id == first.submission.submission_id
            assert again.submission.answers["name"] == "Ada L."


async def test_an_edit_of_answers_needs_an_open_form_and_voids_the_review(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw, allow_edits=True)
        admin, member = fw.as_("admin_a"), fw.as_("member_a")
        created = (await fw.submissions.SubmitForm(submit("intake", {"name": "Ada"}), metadata=member)).submission
        review = pb.ReviewSubmissionRequest(
            submission=pb.Submission(submission_id=created.submission_id, status=pb.SUBMISSION_STATUS_ACCEPTED),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        )
        await fw.submissions.ReviewSubmission(review, metadata=admin)
        # Changed answers are not the ones the reviewer accepted: the submission is back for review.
        edited = (await fw.submissions.UpdateSubmission(edit(created, "Ada L."), metadata=member)).submission
        assert (edited.status, edited.revision_count) == (pb.SUBMISSION_STATUS_SUBMITTED, 1)

        # An archived form takes no changed answers either; nothing of the edit is kept.
        await fw.forms.ArchiveForm(pb.ArchiveFormRequest(key="intake"), metadata=admin)
        await expect_error(
            fw.submissions.UpdateSubmission(edit(created, "late"), metadata=member),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FORM_ARCHIVED",
        )
        request = pb.GetSubmissionRequest(submission_id=created.submission_id)
        assert (await fw.submissions.GetSubmission(request, metadata=member)).submission == edited
        await fw.forms.UnarchiveForm(pb.UnarchiveFormRequest(key="intake"), metadata=admin)
        await fw.submissions.UpdateSubmission(edit(created, "again"), metadata=member)


async def test_of_concurrent_edits_of_one_revision_one_wins_and_the_others_are_aborted(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw, allow_edits=True)
        member = fw.as_("member_a")
        created = (await fw.submissions.SubmitForm(submit("intake", {"name": "Ada"}), metadata=member)).submission

        async def outcome(name: str) -> str:
            try:
                await fw.submissions.UpdateSubmission(edit(created, name, etag=created.etag), metadata=member)
            except grpc.aio.AioRpcError as error:
                return f"{error.code().name} {reason_of(error)}"
            return "OK"

        outcomes = await asyncio.gather(*(outcome(f"edit {n}") for n in range(4)))
        assert sorted(outcomes) == ["ABORTED ETAG_MISMATCH"] * 3 + ["OK"]
        revisions = await fw.submissions.ListSubmissionRevisions(
            pb.ListSubmissionRevisionsRequest(submission_id=created.submission_id), metadata=member
        )
        assert [dict(r.answers)["name"] for r in revisions.revisions] == ["Ada"]


async def test_answer_filters_compare_numbers_and_text_exactly(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw)
        admin = fw.as_("admin_a")
        for name, age in (("Ada", 16_777_217), ("ada", 16_777_216), ("Adà", 1), ("Ada ", 2)):
            await fw.submissions.SubmitForm(submit("intake", {"name": name, "age": age}), metadata=admin)

        async def names(text: str) -> list[str]:
            listing = pb.ListSubmissionsRequest(form_key="intake", filter=text, order_by="create_time")
            found = await fw.submissions.ListSubmissions(listing, metadata=admin)
            return [str(s.answers["name"]) for s in found.submissions]

        # Whole numbers past 2^24 are told apart (a single-precision index could not).
        assert await names("answers.age = 16777217") == ["Ada"]
        assert await names("answers.age > 16777216") == ["Ada"]
        # Text by its characters: no case, accent or trailing-space folding.
        assert await names('answers.name = "Ada"') == ["Ada"]
        assert await names('answers.name != "Ada"') == ["ada", "Adà", "Ada "]
