"""Submissions: validated on the server by the form's rules, pinned to their version, stored in the
tenant's database, listed and filtered, reviewed, edited with revisions, deleted with an audit entry."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2, struct_pb2, timestamp_pb2
from sqlalchemy import select, update
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.forms.models import FormsAuditRow, SubmissionRow
from services.runtime.json_documents import dict_to_struct, struct_to_dict
from tests.support.errors import expect_error, violations
from tests.support.forms import FormsWorld, definition, forms_world, sample_definition


async def publish_sample(fw: FormsWorld, key: str = "intake", *, allow_edits: bool = False) -> None:
    admin = fw.as_("admin_a")
    form = pb.Form(key=key, draft=definition(sample_definition()), allow_edits=allow_edits)
    await fw.forms.CreateForm(pb.CreateFormRequest(form=form), metadata=admin)
    await fw.forms.PublishForm(pb.PublishFormRequest(key=key), metadata=admin)


def submit(key: str, answers: dict[str, Any], **more: Any) -> pb.SubmitFormRequest:
    return pb.SubmitFormRequest(form_key=key, answers=dict_to_struct(answers), **more)


async def stored_rows(fw: FormsWorld, tenant_id: str) -> list[SubmissionRow]:
    async with fw.mesh.runtime.db.tenant_session(await fw.database_of(tenant_id)) as session:
        return list((await session.execute(select(SubmissionRow))).scalars())


async def test_answers_are_checked_by_the_forms_rules_and_stored_pinned(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw)
        member = fw.as_("member_a")
        # Every violation at once, each at its answer's path, with the rule's message in the locale.
        bad = {
            "age": "old",
            "extra": 1,
            "start": "2026-05-02",
            "end": "2026-05-01",
            "items": [{"qty": 2}],
            "total": 99,
        }
        error = await expect_error(
            fw.submissions.SubmitForm(submit("intake", bad, locale="id"), metadata=member),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ANSWERS_INVALID",
        )
        found = {(v.field, v.reason) for v in violations(error)}
        assert found == {
            ("answers.name", "ANSWER_REQUIRED"),
            ("answers.age", "ANSWER_INVALID"),
            ("answers.extra", "ANSWER_UNKNOWN_FIELD"),
            ("answers.end", "ANSWER_CHECK_FAILED"),
            ("answers.total", "ANSWER_COMPUTED_MISMATCH"),
        }
        check = next(v for v in violations(error) if v.reason == "ANSWER_CHECK_FAILED")
        assert check.description == "Tanggal akhir setelah tanggal mulai"
        assert not await stored_rows(fw, fw.world.tenant_a)  # a failed submission stores nothing

        # ValidateSubmission: the same verdict in the answer, nothing stored.
        checked = await fw.submissions.ValidateSubmission(
            pb.ValidateSubmissionRequest(form_key="intake", answers=dict_to_struct(bad)), metadata=member
        )
        assert not checked.valid
        assert {v.field for v in checked.violations} == {f for f, _ in found}

        # A good submission: the computed total filled in by the server, the hidden end date dropped.
        good = {"name": "Ada", "age": 36, "country": "ID", "end": "2026-01-01", "items": [{"qty": 2}, {"qty": 3}]}
        request_id = str(uuid.uuid4())
        created = (
            await fw.submissions.SubmitForm(submit("intake", good, request_id=request_id), metadata=member)
        ).submission
        answers = dict(created.answers)
        assert answers["total"] == 5
        assert "end" not in answers
        assert (created.version, created.status) == (1, pb.SUBMISSION_STATUS_SUBMITTED)
        again = await fw.submissions.SubmitForm(submit("intake", good, request_id=request_id), metadata=member)
        assert again.submission.submission_id == created.submission_id
        # Someone else's request id is refused, and says nothing of their submission.
        await expect_error(
            fw.submissions.SubmitForm(submit("intake", good, request_id=request_id), metadata=fw.as_("admin_a")),
            grpc.StatusCode.ALREADY_EXISTS,
            "REQUEST_ID_REUSED",
        )
        assert len(await stored_rows(fw, fw.world.tenant_a)) == 1


async def test_listing_filters_by_indexed_answers_and_members_see_their_own(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw)
        admin, member = fw.as_("admin_a"), fw.as_("member_a")
        for who, name, country, age in (
            (member, "a", "ID", 20),
            (admin, "b", "NL", 30),
            (member, "c", "ID", 40),
        ):
            answers = {"name": name, "country": country, "age": age}
            await fw.submissions.SubmitForm(submit("intake", answers), metadata=who)

        def names(response: pb.ListSubmissionsResponse) -> list[str]:
            return [str(s.answers["name"]) for s in response.submissions]

        everything = await fw.submissions.ListSubmissions(pb.ListSubmissionsRequest(form_key="intake"), metadata=admin)
        assert names(everything) == ["c", "b", "a"]  # newest first
        oldest_first = pb.ListSubmissionsRequest(form_key="intake", order_by="create_time")
        assert names(await fw.submissions.ListSubmissions(oldest_first, metadata=admin)) == ["a", "b", "c"]
        filtered = pb.ListSubmissionsRequest(form_key="intake", filter='answers.country = "ID" AND answers.age > 25')
        assert names(await fw.submissions.ListSubmissions(filtered, metadata=admin)) == ["c"]
        # A member sees their own only, whatever the filter says.
        mine = await fw.submissions.ListSubmissions(pb.ListSubmissionsRequest(form_key="intake"), metadata=member)
        assert names(mine) == ["c", "a"]
        others = next(s for s in everything.submissions if s.answers["name"] == "b")
        await expect_error(
            fw.submissions.GetSubmission(pb.GetSubmissionRequest(submission_id=others.submission_id), metadata=member),
            grpc.StatusCode.NOT_FOUND,
            "SUBMISSION_NOT_FOUND",
        )
        # Paging with the filters it was issued for; another filter's token is refused.
        first = await fw.submissions.ListSubmissions(
            pb.ListSubmissionsRequest(form_key="intake", page_size=2), metadata=admin
        )
        assert names(first) == ["c", "b"]
        second = await fw.submissions.ListSubmissions(
            pb.ListSubmissionsRequest(form_key="intake", page_size=2, page_token=first.next_page_token),
            metadata=admin,
        )
        assert names(second) == ["a"]
        assert not second.next_page_token
        await expect_error(
            fw.submissions.ListSubmissions(
                pb.ListSubmissionsRequest(
                    form_key="intake", status=pb.SUBMISSION_STATUS_ACCEPTED, page_token=first.next_page_token
                ),
                metadata=admin,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PAGE_TOKEN_INVALID",
        )
        # Times a Timestamp cannot hold (past the year 9999, negative nanos) name their field.
        for field, stamp in (
            ("submitted_after", timestamp_pb2.Timestamp(seconds=299_406_375_623)),
            ("submitted_before", timestamp_pb2.Timestamp(seconds=1_000_000_000, nanos=-5)),
        ):
            out_of_range = pb.ListSubmissionsRequest(form_key="intake")
            getattr(out_of_range, field).CopyFrom(stamp)
            error = await expect_error(
                fw.submissions.ListSubmissions(out_of_range, metadata=admin),
                grpc.StatusCode.INVALID_ARGUMENT,
                "FIELD_INVALID",
            )
            assert [v.field for v in violations(error)] == [field]
        # Filters on fields the form does not have, or that do not parse.
        for text, reason in (("answers.nope = 1", "FILTER_FIELD_UNKNOWN"), ("country = 'ID'", "FILTER_INVALID")):
            await expect_error(
                fw.submissions.ListSubmissions(
                    pb.ListSubmissionsRequest(form_key="intake", filter=text), metadata=admin
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                reason,
            )


def with_key(token: str, key: str) -> str:
    """A page token as issued, its last key replaced (what a caller can forge: tokens are not signed)."""
    body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body["k"] = key
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


async def test_filter_values_and_page_keys_that_no_database_takes_are_refused(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw)
        admin = fw.as_("admin_a")
        for name in ("a", "b"):
            await fw.submissions.SubmitForm(submit("intake", {"name": name, "age": 30}), metadata=admin)
        # Numbers past a double (infinite) and strings whose escapes spell a lone surrogate.
        for text in ("answers.age > 1e999", "answers.age < -1e999", 'answers.name = "\\ud800"'):
            error = await expect_error(
                fw.submissions.ListSubmissions(
                    pb.ListSubmissionsRequest(form_key="intake", filter=text), metadata=admin
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "FILTER_INVALID",
            )
            assert [v.field for v in violations(error)] == ["filter"]
        # A token as issued, its key replaced by one no list issues: a lone surrogate, or too long.
        listing = pb.ListSubmissionsRequest(form_key="intake", page_size=1)
        issued = (await fw.submissions.ListSubmissions(listing, metadata=admin)).next_page_token
        for key in ("\ud800", "0" * 256):  # longer than any key a list issues (255)
            forged = pb.ListSubmissionsRequest(form_key="intake", page_size=1, page_token=with_key(issued, key))
            error = await expect_error(
                fw.submissions.ListSubmissions(forged, metadata=admin),
                grpc.StatusCode.INVALID_ARGUMENT,
                "PAGE_TOKEN_INVALID",
            )
            assert [v.field for v in violations(error)] == ["page_token"]


async def test_an_unknown_answer_key_of_any_length_is_reported_within_the_trailer(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw)
        error = await expect_error(
            fw.submissions.SubmitForm(submit("intake", {"name": "a", "k" * 60_000: 1}), metadata=fw.as_("member_a")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ANSWERS_INVALID",
        )
        [violation] = violations(error)
        # The key, cut short: the whole status fits in the trailer a gRPC client accepts.
        assert violation.field.startswith("answers.kkk")
        assert violation.field.endswith("\u2026")
        assert len(violation.field.encode()) <= 512
        assert violation.reason == "ANSWER_UNKNOWN_FIELD"
        assert await stored_rows(fw, fw.world.tenant_a) == []


async def test_review_edit_with_revisions_and_audited_delete(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw, allow_edits=True)
        await publish_sample(fw, "fixed")
        admin, member = fw.as_("admin_a"), fw.as_("member_a")
        created = (await fw.submissions.SubmitForm(submit("intake", {"name": "Ada"}), metadata=member)).submission
        sid = created.submission_id
        # Reviewing is a permission members do not hold.
        review = pb.ReviewSubmissionRequest(
            submission=pb.Submission(submission_id=sid, status=pb.SUBMISSION_STATUS_ACCEPTED, note="ok"),
            update_mask=field_mask_pb2.FieldMask(paths=["status", "note"]),
        )
        await expect_error(
            fw.submissions.ReviewSubmission(review, metadata=member),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        )
        reviewed = (await fw.submissions.ReviewSubmission(review, metadata=admin)).submission
        assert (reviewed.status, reviewed.note) == (pb.SUBMISSION_STATUS_ACCEPTED, "ok")

        # The submitter edits: revalidated, the old answers kept.
        await expect_error(
            fw.submissions.UpdateSubmission(
                pb.UpdateSubmissionRequest(submission_id=sid, answers=dict_to_struct({"age": -1})), metadata=member
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ANSWERS_INVALID",
        )
        edited = (
            await fw.submissions.UpdateSubmission(
                pb.UpdateSubmissionRequest(submission_id=sid, answers=dict_to_struct({"name": "Ada L."})),
                metadata=member,
            )
        ).submission
        assert (edited.answers["name"], edited.revision_count) == ("Ada L.", 1)
        revisions = await fw.submissions.ListSubmissionRevisions(
            pb.ListSubmissionRevisionsRequest(submission_id=sid), metadata=member
        )
        assert [dict(r.answers) for r in revisions.revisions] == [{"name": "Ada", "total": 0}]
        fixed = (await fw.submissions.SubmitForm(submit("fixed", {"name": "Bo"}), metadata=member)).submission
        await expect_error(
            fw.submissions.UpdateSubmission(
                pb.UpdateSubmissionRequest(submission_id=fixed.submission_id, answers=dict_to_struct({"name": "x"})),
                metadata=member,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "SUBMISSION_NOT_EDITABLE",
        )

        # A form with submissions is deleted only with purge; both deletions are audited.
        await expect_error(
            fw.forms.DeleteForm(pb.DeleteFormRequest(key="fixed"), metadata=admin),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FORM_HAS_SUBMISSIONS",
        )
        purged = await fw.forms.DeleteForm(pb.DeleteFormRequest(key="fixed", purge=True), metadata=admin)
        assert purged.purged_submissions == 1
        await fw.submissions.DeleteSubmission(pb.DeleteSubmissionRequest(submission_id=sid), metadata=admin)
        assert not await stored_rows(fw, fw.world.tenant_a)
        async with fw.mesh.runtime.db.tenant_session(await fw.database_of(fw.world.tenant_a)) as session:
            audit = list((await session.execute(select(FormsAuditRow.action, FormsAuditRow.target))).all())
        assert sorted(tuple(row) for row in audit) == [("form.purged", "fixed"), ("submission.deleted", sid)]


async def test_an_unknown_file_reference_is_refused_at_its_answer_and_nothing_is_stored(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        document = {
            "schema": {"type": "object", "properties": {"name": {"type": "string"}, "scan": {"type": "string"}}},
            "fields": [
                {"key": "name", "type": "FIELD_TYPE_SHORT_TEXT"},
                {"key": "scan", "type": "FIELD_TYPE_FILE"},
            ],
        }
        admin = fw.as_("admin_a")
        await fw.forms.CreateForm(
            pb.CreateFormRequest(form=pb.Form(key="upload", draft=definition(document))), metadata=admin
        )
        await fw.forms.PublishForm(pb.PublishFormRequest(key="upload"), metadata=admin)
        # A reference no upload of this tenant made is refused at its answer; the rest of the form works.
        error = await expect_error(
            fw.submissions.SubmitForm(submit("upload", {"name": "Ada", "scan": "file-ref-of-someone"}), metadata=admin),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ANSWERS_INVALID",
        )
        assert {(v.field, v.reason) for v in violations(error)} == {("answers.scan", "FILE_NOT_FOUND")}
        assert not await stored_rows(fw, fw.world.tenant_a)
        await fw.submissions.SubmitForm(submit("upload", {"name": "Ada"}), metadata=admin)
        assert len(await stored_rows(fw, fw.world.tenant_a)) == 1


async def test_answers_are_kept_as_struct_bytes_and_older_submissions_without_them_read_the_same(
    db_backend_url: str, tmp_path: Path
) -> None:
    """Each submission keeps its answers also as serialized Struct bytes, which every read returns.
    A submission stored before forms_tenant_0003 has none (the column was added null): it is read
    from its JSON and answers exactly as if it had them."""
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw, allow_edits=True)
        admin, member = fw.as_("admin_a"), fw.as_("member_a")
        for who, answers in (
            (member, {"name": "Ädä 🦉", "country": "ID", "age": 20, "items": [{"qty": 2}, {"qty": 3}]}),
            (admin, {"name": "b", "country": "NL", "start": "2026-01-05", "end": "2026-02-07"}),
            (member, {"name": "c", "country": "ID", "age": 40}),
            (admin, {"name": "d", "country": "ID"}),
        ):
            await fw.submissions.SubmitForm(submit("intake", answers), metadata=who)
        rows = await stored_rows(fw, fw.world.tenant_a)
        for row in rows:
            assert row.answers_struct is not None
            assert struct_pb2.Struct.FromString(row.answers_struct) == dict_to_struct(json.loads(row.answers_json))

        async def every_read() -> list[Any]:
            """Everything that returns submissions: listings (all, filtered page by page, a
            member's own) and each one's GetSubmission."""
            listings = [
                await fw.submissions.ListSubmissions(pb.ListSubmissionsRequest(form_key="intake"), metadata=admin),
                await fw.submissions.ListSubmissions(pb.ListSubmissionsRequest(form_key="intake"), metadata=member),
            ]
            token = ""
            while True:
                request = pb.ListSubmissionsRequest(
                    form_key="intake", filter='answers.country = "ID"', page_size=1, page_token=token
                )
                listings.append(await fw.submissions.ListSubmissions(request, metadata=admin))
                token = listings[-1].next_page_token
                if not token:
                    break
            gets = [
                await fw.submissions.GetSubmission(
                    pb.GetSubmissionRequest(submission_id=row.submission_id), metadata=admin
                )
                for row in rows
            ]
            return [*listings, *gets]

        with_bytes = await every_read()
        assert [len(listing.submissions) for listing in with_bytes[:5]] == [4, 2, 1, 1, 1]
        by_name = {json.loads(row.answers_json)["name"]: row.submission_id for row in rows}
        older = [by_name["Ädä 🦉"], by_name["d"]]  # a member's and an administrator's
        await forget_answers_struct(fw, fw.world.tenant_a, older)
        assert await every_read() == with_bytes

        # Editing a submission stored before the bytes writes them with its new answers.
        edited = (
            await fw.submissions.UpdateSubmission(
                pb.UpdateSubmissionRequest(
                    submission_id=older[0], answers=dict_to_struct({"name": "Ada", "items": [{"qty": 1}]})
                ),
                metadata=member,
            )
        ).submission
        assert struct_to_dict(edited.answers, "answers") == {"name": "Ada", "items": [{"qty": 1}], "total": 1}
        row = next(r for r in await stored_rows(fw, fw.world.tenant_a) if r.submission_id == older[0])
        assert row.answers_struct is not None
        assert struct_pb2.Struct.FromString(row.answers_struct) == edited.answers
        mine = await fw.submissions.ListSubmissions(pb.ListSubmissionsRequest(form_key="intake"), metadata=member)
        assert next(s for s in mine.submissions if s.submission_id == older[0]) == edited


async def forget_answers_struct(fw: FormsWorld, tenant_id: str, submission_ids: list[str]) -> None:
    """Makes submissions look as if stored before forms_tenant_0003 added answers_struct."""
    async with fw.mesh.runtime.db.tenant_session(await fw.database_of(tenant_id)) as session:
        await session.execute(
            update(SubmissionRow).where(SubmissionRow.submission_id.in_(submission_ids)).values(answers_struct=None)
        )
        await session.commit()
