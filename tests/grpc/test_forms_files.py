"""FileService on a running platform (tenants, auth, forms): uploads streamed into the blob store,
downloads, limits, tenant isolation, expiry by the sweeper, and the submission seam (attach,
delete with the submission). Each failure asserts code + reason and that nothing was left behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api import httpbody_pb2
from sqlalchemy import select
from tenantmesh.forms.v1 import file_service_pb2 as pb
from tenantmesh.forms.v1 import file_service_pb2_grpc, form_pb2
from tenantmesh.forms.v1 import form_service_pb2 as forms_pb
from tenantmesh.tenants.v1 import tenant_service_pb2 as tenants_pb

from services.forms.app import FormsApp
from services.forms.files import FileAnswer
from services.forms.files.models import FileReminderRow, FileRow, FileState
from services.runtime.clock import utcnow
from services.runtime.context import Principal, acting_for, principal_var
from services.runtime.json_documents import dict_to_struct
from services.runtime.tenant_db import tenant_session
from tests.support.errors import expect_error, expect_same_refusal, reason_of, violation_fields
from tests.support.forms import FormsWorld, definition
from tests.support.isolation import GrpcCaller, World, build_world, claims_of, run_matrix, served_rpcs
from tests.support.platform import Platform, bearer, platform
from tests.support.registry import eventually
from tests.support.s3 import S3TestServer

LIMITS = {
    "TENANTMESH_FILES_MAX_MIB": str(64 / 1024),  # 64 KiB
    "TENANTMESH_FILES_UPLOAD_TTL_SECONDS": "3600",
    # The sweeper is driven by hand.
    "TENANTMESH_FILES_SWEEP_SECONDS": "3600",
}


def chunks(data: bytes, size: int = 10_000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def upload_messages(data: bytes, content_type: str, filename: str = "report.pdf") -> list[pb.UploadFileRequest]:
    parts = chunks(data)
    first = pb.UploadFileRequest(
        filename=filename, content=httpbody_pb2.HttpBody(content_type=content_type, data=parts[0])
    )
    return [first, *(pb.UploadFileRequest(content=httpbody_pb2.HttpBody(data=part)) for part in parts[1:])]


class Caller:
    def __init__(self, mesh: Platform, token: str, tenant_id: str) -> None:
        self.stub: Any = file_service_pb2_grpc.FileServiceStub(mesh.channel("forms"))
        self.metadata = (*bearer(token), ("x-tenant-id", tenant_id))
        self.tenant_id = tenant_id

    async def upload(self, messages: Iterable[pb.UploadFileRequest]) -> pb.File:
        response: pb.UploadFileResponse = await self.stub.UploadFile(iter(list(messages)), metadata=self.metadata)
        return response.file

    def upload_call(self, messages: Iterable[pb.UploadFileRequest]) -> Any:
        return self.stub.UploadFile(iter(list(messages)), metadata=self.metadata)

    async def download(self, file_id: str) -> tuple[str, bytes]:
        content_type, data = "", b""
        async for body in self.stub.DownloadFile(pb.DownloadFileRequest(file_id=file_id), metadata=self.metadata):
            content_type = content_type or body.content_type
            data += body.data
        return content_type, data


def forms_app(mesh: Platform) -> FormsApp:
    return next(item.app for item in mesh.started if isinstance(item.app, FormsApp))


@asynccontextmanager
async def files_platform(db_backend_url: str, tmp_path: Path, **env: str) -> AsyncIterator[tuple[Platform, World]]:
    async with platform(db_backend_url, tmp_path, {**LIMITS, **env}, extra=("forms",)) as mesh:
        world = await build_world(mesh)
        try:
            yield mesh, world
        finally:
            await world.cleanup()


async def stored_rows(mesh: Platform, tenant_id: str) -> list[FileRow]:
    tenant = await forms_app(mesh).tenants.lookup(tenant_id)
    assert tenant is not None
    with acting_for(tenant):
        async with tenant_session(mesh.runtime.db) as session:
            return list((await session.execute(select(FileRow))).scalars())


async def reminders(mesh: Platform) -> list[str]:
    async with mesh.runtime.db.core_session() as session:
        return list((await session.execute(select(FileReminderRow.file_id))).scalars())


def blob_files(data_dir: Path) -> list[str]:
    return sorted(name for _, _, names in os.walk(data_dir / "blobs") for name in names)


async def test_upload_download_and_isolation(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        admin_b = Caller(mesh, world.tokens["admin_b"], world.tenant_b)
        data = os.urandom(50_000)
        uploaded = await admin_a.upload(upload_messages(data, "application/pdf; charset=binary"))
        assert (uploaded.filename, uploaded.content_type, uploaded.size_bytes) == (
            "report.pdf",
            "application/pdf",
            len(data),
        )
        assert uploaded.sha256 == hashlib.sha256(data).hexdigest()
        assert uploaded.state == pb.FILE_STATE_UPLOADED
        assert uploaded.expire_time.seconds > uploaded.create_time.seconds
        assert uploaded.uploaded_by.startswith("user:")

        got = (await admin_a.stub.GetFile(pb.GetFileRequest(file_id=uploaded.file_id), metadata=admin_a.metadata)).file
        assert got == uploaded
        assert await admin_a.download(uploaded.file_id) == ("application/pdf", data)
        # Stored under tenant A's folder, owner-only.
        [blob] = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
        assert blob.relative_to(tmp_path / "blobs").parts[:3] == ("tenants", world.tenant_a, "forms")
        assert oct(blob.stat().st_mode & 0o777) == "0o600"

        # Tenant B: the reference does not exist there, whatever B does with it; every answer is the
        # one for a reference that never existed.
        def as_b(file_id: str) -> list[Awaitable[Any]]:
            return [
                admin_b.stub.GetFile(pb.GetFileRequest(file_id=file_id), metadata=admin_b.metadata),
                admin_b.download(file_id),
                admin_b.stub.DeleteFile(pb.DeleteFileRequest(file_id=file_id), metadata=admin_b.metadata),
            ]

        for foreign, absent in zip(as_b(uploaded.file_id), as_b(str(uuid.uuid4())), strict=True):
            await expect_same_refusal(foreign, absent, grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")
        assert await admin_a.download(uploaded.file_id) == ("application/pdf", data)

        # An empty file is a file.
        empty = await admin_a.upload(upload_messages(b"", "text/plain", "empty.txt"))
        assert empty.size_bytes == 0
        assert await admin_a.download(empty.file_id) == ("text/plain", b"")

        # Withdrawn: row, content and reminder go.
        await admin_a.stub.DeleteFile(pb.DeleteFileRequest(file_id=uploaded.file_id), metadata=admin_a.metadata)
        await expect_error(
            admin_a.stub.GetFile(pb.GetFileRequest(file_id=uploaded.file_id), metadata=admin_a.metadata),
            grpc.StatusCode.NOT_FOUND,
            "FILE_NOT_FOUND",
        )
        assert [row.file_id for row in await stored_rows(mesh, world.tenant_a)] == [empty.file_id]
        assert await reminders(mesh) == [empty.file_id]
        assert len(blob_files(tmp_path)) == 1


@pytest.mark.parametrize(
    ("messages", "reason", "field"),
    [
        (upload_messages(b"x" * (64 * 1024 + 1), "application/pdf"), "FILE_TOO_LARGE", "content.data"),
        (upload_messages(b"<script>", "text/html"), "FILE_TYPE_NOT_ALLOWED", "content.content_type"),
        (upload_messages(b"x", ""), "FIELD_INVALID", "content.content_type"),
        # Matches an allowed prefix ("application/vnd.oasis.opendocument.*") but is longer than a
        # media type may be (and than the column holds).
        (
            upload_messages(b"x", "application/vnd.oasis.opendocument." + "x" * 300),
            "FIELD_INVALID",
            "content.content_type",
        ),
        (upload_messages(b"x", "application/vnd.oasis.opendocument.text\x00"), "FIELD_INVALID", "content.content_type"),
        (upload_messages(b"x", "text/ plain"), "FIELD_INVALID", "content.content_type"),
        (upload_messages(b"x", "text/plain", "../../etc/passwd"), "FIELD_INVALID", "filename"),
        # Shown to reviewers as "invoiceexe.pdf"; a C1 control (NEL, a line break to many readers).
        (upload_messages(b"x", "text/plain", "invoice\u202efdp.exe"), "FIELD_INVALID", "filename"),
        (upload_messages(b"x", "text/plain", "a\u0085b.txt"), "FIELD_INVALID", "filename"),
        ([], "FIELD_INVALID", "content.data"),
    ],
    ids=[
        "oversized",
        "html",
        "no-type",
        "long-type",
        "control-in-type",
        "space-in-type",
        "slash-in-name",
        "direction-override-in-name",
        "c1-control-in-name",
        "no-message",
    ],
)
async def test_bad_uploads_store_nothing(
    db_backend_url: str, tmp_path: Path, messages: list[pb.UploadFileRequest], reason: str, field: str
) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        error = await expect_error(admin_a.upload_call(messages), grpc.StatusCode.INVALID_ARGUMENT, reason)
        assert field in violation_fields(error)
        assert await stored_rows(mesh, world.tenant_a) == []
        assert await reminders(mesh) == []
        assert blob_files(tmp_path) == []


async def test_an_id_in_other_case_names_the_file_whole_or_not_at_all(db_backend_url: str, tmp_path: Path) -> None:
    # The runtime writes a request's UUIDs in lower case, so both databases find the row; the
    # content and the reminder are the row's, whatever spelling the caller used.
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        uploaded = await admin_a.upload(upload_messages(b"hello", "text/plain"))
        shouted = uploaded.file_id.upper()
        assert await admin_a.download(shouted) == ("text/plain", b"hello")
        await admin_a.stub.DeleteFile(pb.DeleteFileRequest(file_id=shouted), metadata=admin_a.metadata)
        assert await stored_rows(mesh, world.tenant_a) == []
        assert await reminders(mesh) == []
        assert blob_files(tmp_path) == []


async def test_members_upload_but_do_not_read_files(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        member = Caller(mesh, world.tokens["member_a"], world.tenant_a)
        uploaded = await member.upload(upload_messages(b"mine", "text/plain"))
        await expect_error(
            member.stub.GetFile(pb.GetFileRequest(file_id=uploaded.file_id), metadata=member.metadata),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        )
        await expect_error(member.download(uploaded.file_id), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


async def test_expired_uploads_are_refused_then_swept(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path, TENANTMESH_FILES_UPLOAD_TTL_SECONDS="2") as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        kept = await admin_a.upload(upload_messages(b"kept", "text/plain"))
        lost = await admin_a.upload(upload_messages(b"lost", "text/plain"))
        assert await attach(mesh, world, [answer("cv", kept.file_id)], "sub-1") == []

        async def lost_expired() -> bool:
            try:
                await admin_a.stub.GetFile(pb.GetFileRequest(file_id=lost.file_id), metadata=admin_a.metadata)
            except grpc.aio.AioRpcError:
                return True
            return False

        # Served until its expiry (whole seconds are stored: 1 to 3 s from now), then refused: the
        # first refusal ends the wait, and the check below says which one it is.
        await eventually(lost_expired, within=3.1)
        await expect_error(
            admin_a.stub.GetFile(pb.GetFileRequest(file_id=lost.file_id), metadata=admin_a.metadata),
            grpc.StatusCode.NOT_FOUND,
            "FILE_EXPIRED",
        )
        violations = await attach(mesh, world, [answer("cv", lost.file_id)], "sub-2")
        assert [(v.pointer, v.reason) for v in violations] == [("/cv", "FILE_EXPIRED")]

        assert await forms_app(mesh).files.sweeper.sweep_once() == 2
        # The expired upload is gone; the attached file stays, with nothing left to remind.
        assert [row.file_id for row in await stored_rows(mesh, world.tenant_a)] == [kept.file_id]
        assert await reminders(mesh) == []
        assert len(blob_files(tmp_path)) == 1
        assert await admin_a.download(kept.file_id) == ("text/plain", b"kept")


def answer(field: str, file_id: str, rules: form_pb2.FileRules | None = None) -> FileAnswer:
    return FileAnswer(f"/{field}", field, file_id, rules)


async def attach(mesh: Platform, world: World, answers: list[FileAnswer], submission_id: str) -> list[Any]:
    """What SubmitForm does with its FILE answers, in its own transaction, as admin A."""
    tenant = await forms_app(mesh).tenants.lookup(world.tenant_a)
    assert tenant is not None
    subject = forms_subject(world)
    token = principal_var.set(Principal(subject=subject, tenant_id=world.tenant_a))
    try:
        with acting_for(tenant):
            async with tenant_session(mesh.runtime.db) as session:
                violations = await forms_app(mesh).files.submissions.check(session, submission_id, answers)
                if violations:
                    await session.rollback()
                else:
                    await session.commit()
                return violations
    finally:
        principal_var.reset(token)


def forms_subject(world: World) -> str:
    return str(claims_of(world.tokens["admin_a"])["sub"])


async def test_submissions_take_files_and_delete_them(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        admin_b = Caller(mesh, world.tokens["admin_b"], world.tenant_b)
        pdf = await admin_a.upload(upload_messages(b"%PDF" + b"x" * 2000, "application/pdf"))
        png = await admin_a.upload(upload_messages(b"\x89PNG", "image/png"))
        of_b = await admin_b.upload(upload_messages(b"b's", "text/plain"))
        narrow = form_pb2.FileRules(max_bytes=1000, accept=["image/*"])

        # Every problem at once, nothing attached.
        violations = await attach(
            mesh,
            world,
            [
                answer("scan", pdf.file_id, narrow),
                answer("photo", png.file_id, form_pb2.FileRules(accept=["application/pdf"])),
                answer("other", of_b.file_id),
                answer("again", png.file_id),
            ],
            "sub-1",
        )
        assert sorted((v.pointer, v.reason) for v in violations) == [
            ("/again", "FILE_ATTACHED"),
            ("/other", "FILE_NOT_FOUND"),
            ("/photo", "FILE_TYPE_NOT_ALLOWED"),
            ("/scan", "FILE_TOO_LARGE"),
        ]
        assert {row.state for row in await stored_rows(mesh, world.tenant_a)} == {FileState.UPLOADED}

        # A good submission takes both.
        assert (
            await attach(
                mesh,
                world,
                [answer("scan", pdf.file_id), answer("photo", png.file_id, narrow)],
                "sub-1",
            )
            == []
        )
        got = (await admin_a.stub.GetFile(pb.GetFileRequest(file_id=pdf.file_id), metadata=admin_a.metadata)).file
        assert got.state == pb.FILE_STATE_ATTACHED
        assert not got.HasField("expire_time")
        await expect_error(
            admin_a.stub.DeleteFile(pb.DeleteFileRequest(file_id=pdf.file_id), metadata=admin_a.metadata),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FILE_ATTACHED",
        )
        # Another submission cannot take them.
        again = await attach(mesh, world, [answer("scan", pdf.file_id)], "sub-2")
        assert [v.reason for v in again] == ["FILE_ATTACHED"]

        # Deleting the submission deletes its files (content, rows, reminders).
        app = forms_app(mesh)
        tenant = await app.tenants.lookup(world.tenant_a)
        assert tenant is not None
        with acting_for(tenant):
            doomed = await app.files.submissions.prepare_release("sub-1")
            assert sorted(doomed) == sorted([pdf.file_id, png.file_id])
            async with tenant_session(mesh.runtime.db) as session:
                await app.files.submissions.mark_released(session, "sub-1")
                await session.commit()
            await app.files.submissions.purge(doomed)
        assert await stored_rows(mesh, world.tenant_a) == []
        assert await reminders(mesh) == [of_b.file_id]
        assert len(blob_files(tmp_path)) == 1  # B's upload


async def test_a_deletion_interrupted_after_its_commit_is_finished_by_the_sweeper(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        file = await admin_a.upload(upload_messages(b"data", "text/plain"))
        assert await attach(mesh, world, [answer("doc", file.file_id)], "sub-1") == []
        app = forms_app(mesh)
        tenant = await app.tenants.lookup(world.tenant_a)
        assert tenant is not None
        with acting_for(tenant):
            await app.files.submissions.prepare_release("sub-1")
            async with tenant_session(mesh.runtime.db) as session:
                await app.files.submissions.mark_released(session, "sub-1")
                await session.commit()
            # ... and the process dies before purge().
        assert await app.files.sweeper.sweep_once() == 1
        assert await stored_rows(mesh, world.tenant_a) == []
        assert await reminders(mesh) == []
        assert blob_files(tmp_path) == []


async def test_uploads_into_s3(db_backend_url: str, tmp_path: Path, s3_server: S3TestServer, s3_bucket: str) -> None:
    async with files_platform(db_backend_url, tmp_path, **s3_server.env(s3_bucket)) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        data = os.urandom(60_000)
        uploaded = await admin_a.upload(upload_messages(data, "image/png"))
        assert await admin_a.download(uploaded.file_id) == ("image/png", data)
        assert s3_server.object_keys(s3_bucket) == [f"tenants/{world.tenant_a}/forms/files/{uploaded.file_id}"]
        error = await expect_error(
            admin_a.upload_call(upload_messages(b"y" * (64 * 1024 + 10), "image/png")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FILE_TOO_LARGE",
        )
        assert reason_of(error) == "FILE_TOO_LARGE"
        assert len(s3_server.object_keys(s3_bucket)) == 1
        assert blob_files(tmp_path) == []


async def test_isolation_matrix_covers_the_file_service(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        rpcs = [rpc for rpc in served_rpcs(mesh.started) if rpc.server == "forms"]
        assert {rpc.path.rsplit("/", 1)[1] for rpc in rpcs if "FileService" in rpc.path} == {
            "UploadFile",
            "GetFile",
            "DownloadFile",
            "DeleteFile",
        }
        # A real file of tenant A, so that B's attempts on it are attempts on something that exists.
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        await admin_a.upload(upload_messages(b"a's", "text/plain"))
        caller = GrpcCaller()
        try:
            result = await run_matrix(world, rpcs, caller)
        finally:
            await caller.close()
        print(result.summary("gRPC, forms files"))
        assert not result.leaks, "\n".join(result.leaks)


FILE_FORM = {
    "schema": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "photo": {"type": "string"},
            "documents": {
                "type": "array",
                "items": {"type": "object", "properties": {"scan": {"type": "string"}}},
            },
        },
    },
    "fields": [
        {"key": "name", "type": "FIELD_TYPE_SHORT_TEXT"},
        {"key": "photo", "type": "FIELD_TYPE_FILE", "fileRules": {"maxBytes": "1000", "accept": ["image/*"]}},
        {
            "key": "documents",
            "type": "FIELD_TYPE_REPEATING_GROUP",
            "fields": [{"key": "scan", "type": "FIELD_TYPE_FILE", "fileRules": {"accept": ["application/pdf"]}}],
        },
    ],
}


async def test_submit_form_takes_files_and_delete_submission_deletes_them(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        fw = FormsWorld(mesh, world)
        admin = fw.as_("admin_a")
        form = forms_pb.Form(key="claim", draft=definition(FILE_FORM))
        await fw.forms.CreateForm(forms_pb.CreateFormRequest(form=form), metadata=admin)
        await fw.forms.PublishForm(forms_pb.PublishFormRequest(key="claim"), metadata=admin)

        member = Caller(mesh, world.tokens["member_a"], world.tenant_a)
        photo = await member.upload(upload_messages(b"\x89PNG" + b"p" * 100, "image/png"))
        scan = await member.upload(upload_messages(b"%PDF-1.7", "application/pdf"))
        big_photo = await member.upload(upload_messages(b"\x89PNG" + b"p" * 2000, "image/png"))
        of_b = await Caller(mesh, world.tokens["admin_b"], world.tenant_b).upload(upload_messages(b"b", "image/png"))

        def submit(answers: dict[str, Any]) -> Any:
            request = forms_pb.SubmitFormRequest(form_key="claim", answers=dict_to_struct(answers))
            return fw.submissions.SubmitForm(request, metadata=fw.as_("member_a"))

        # Every refused file at its answer's path, at once; nothing stored, nothing taken.
        error = await expect_error(
            submit(
                {
                    "name": "Ada",
                    "photo": big_photo.file_id,
                    "documents": [{"scan": photo.file_id}, {"scan": of_b.file_id}],
                }
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ANSWERS_INVALID",
        )
        assert violation_fields(error) == {"answers.photo", "answers.documents[0].scan", "answers.documents[1].scan"}
        assert {row.state for row in await stored_rows(mesh, world.tenant_a)} == {FileState.UPLOADED}

        stored = (
            await submit({"name": "Ada", "photo": photo.file_id, "documents": [{"scan": scan.file_id}]})
        ).submission
        states = {row.file_id: (row.state, row.submission_id) for row in await stored_rows(mesh, world.tenant_a)}
        assert states[photo.file_id] == (FileState.ATTACHED, stored.submission_id)
        assert states[scan.file_id] == (FileState.ATTACHED, stored.submission_id)
        # A second submission cannot carry them.
        await expect_error(
            submit({"name": "Bo", "photo": photo.file_id}), grpc.StatusCode.INVALID_ARGUMENT, "ANSWERS_INVALID"
        )

        await fw.submissions.DeleteSubmission(
            forms_pb.DeleteSubmissionRequest(submission_id=stored.submission_id), metadata=admin
        )
        left = {row.file_id for row in await stored_rows(mesh, world.tenant_a)}
        assert left == {big_photo.file_id}
        assert sorted(await reminders(mesh)) == sorted([big_photo.file_id, of_b.file_id])
        assert len(blob_files(tmp_path)) == 2  # the unused upload and tenant B's


async def test_an_edit_that_drops_a_file_detaches_it_for_the_sweeper(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        fw = FormsWorld(mesh, world)
        admin = fw.as_("admin_a")
        form = forms_pb.Form(key="claim", draft=definition(FILE_FORM), allow_edits=True)
        await fw.forms.CreateForm(forms_pb.CreateFormRequest(form=form), metadata=admin)
        await fw.forms.PublishForm(forms_pb.PublishFormRequest(key="claim"), metadata=admin)
        member = Caller(mesh, world.tokens["member_a"], world.tenant_a)
        first_photo = await member.upload(upload_messages(b"\x89PNG one", "image/png"))
        # The reviewer who edits the answers brings the new photo.
        second_photo = await Caller(mesh, world.tokens["admin_a"], world.tenant_a).upload(
            upload_messages(b"\x89PNG two", "image/png")
        )
        scan = await member.upload(upload_messages(b"%PDF-1.7", "application/pdf"))
        answers = {"name": "Ada", "photo": first_photo.file_id, "documents": [{"scan": scan.file_id}]}
        stored = (
            await fw.submissions.SubmitForm(
                forms_pb.SubmitFormRequest(form_key="claim", answers=dict_to_struct(answers)),
                metadata=fw.as_("member_a"),
            )
        ).submission
        await forms_app(mesh).files.sweeper.sweep_once()  # nothing due: the unused upload expires later
        edited = {**answers, "photo": second_photo.file_id}
        await fw.submissions.UpdateSubmission(
            forms_pb.UpdateSubmissionRequest(
                submission_id=stored.submission_id, answers=dict_to_struct(edited), etag=stored.etag
            ),
            metadata=admin,
        )
        states = {row.file_id: (row.state, row.submission_id) for row in await stored_rows(mesh, world.tenant_a)}
        # The dropped photo is detached, the new one and the kept scan belong to the submission.
        assert states == {
            first_photo.file_id: (FileState.DELETING, None),
            second_photo.file_id: (FileState.ATTACHED, stored.submission_id),
            scan.file_id: (FileState.ATTACHED, stored.submission_id),
        }
        assert first_photo.file_id in await reminders(mesh)
        await forms_app(mesh).files.sweeper.sweep_once()
        assert {row.file_id for row in await stored_rows(mesh, world.tenant_a)} == {
            second_photo.file_id,
            scan.file_id,
        }
        assert len(blob_files(tmp_path)) == 2
        assert first_photo.file_id not in await reminders(mesh)
        # The revision keeps the old answers as they were.
        revisions = await fw.submissions.ListSubmissionRevisions(
            forms_pb.ListSubmissionRevisionsRequest(submission_id=stored.submission_id), metadata=admin
        )
        assert revisions.revisions[0].answers["photo"] == first_photo.file_id


async def test_a_malformed_message_in_the_upload_stream_is_invalid_argument(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        first = upload_messages(b"start", "text/plain")[0].SerializeToString()
        raw: Any = mesh.channel("forms").stream_unary(
            "/tenantmesh.forms.v1.FileService/UploadFile", request_serializer=lambda b: b
        )
        # A first good message, then bytes that are no UploadFileRequest.
        await expect_error(
            raw(iter([first, b"\xff\xff\xff"]), metadata=admin_a.metadata),
            grpc.StatusCode.INVALID_ARGUMENT,
            "REQUEST_MALFORMED",
        )
        assert await stored_rows(mesh, world.tenant_a) == []
        assert await reminders(mesh) == []
        assert blob_files(tmp_path) == []


async def test_a_store_that_refuses_the_platform_is_unavailable(
    db_backend_url: str, tmp_path: Path, s3_server: S3TestServer, s3_bucket: str
) -> None:
    env = {**s3_server.env(s3_bucket), "TENANTMESH_S3_SECRET_ACCESS_KEY": "not-the-secret"}
    async with files_platform(db_backend_url, tmp_path, **env) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        await expect_error(
            admin_a.upload_call(upload_messages(b"x", "text/plain")),
            grpc.StatusCode.UNAVAILABLE,
            "DEPENDENCY_UNAVAILABLE",
        )
        assert await stored_rows(mesh, world.tenant_a) == []
        assert await reminders(mesh) == []


@pytest.mark.parametrize("store", ["local", "s3"])
async def test_deleting_a_tenant_removes_its_files(
    db_backend_url: str, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    env: dict[str, str] = {}

    def stored_keys() -> list[str]:
        return blob_files(tmp_path)

    if store == "s3":
        server: S3TestServer = request.getfixturevalue("s3_server")
        bucket: str = request.getfixturevalue("s3_bucket")
        env = server.env(bucket)

        def stored_keys() -> list[str]:
            return server.object_keys(bucket)

    async with files_platform(db_backend_url, tmp_path, **env) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        admin_b = Caller(mesh, world.tokens["admin_b"], world.tenant_b)
        for _ in range(2):
            await admin_a.upload(upload_messages(b"a's", "text/plain"))
        kept = await admin_b.upload(upload_messages(b"b's", "text/plain"))
        assert len(stored_keys()) == 3
        admin = bearer(await mesh.admin_token())
        await mesh.tenants.DeleteTenant(tenants_pb.DeleteTenantRequest(tenant_id=world.tenant_a), metadata=admin)

        async def purged() -> bool:
            return len(stored_keys()) == 1 and await reminders(mesh) == [kept.file_id]

        # Tenant A's content and reminders go with it; tenant B's file is untouched.
        await eventually(purged, within=30)
        if store == "s3":
            assert stored_keys() == [f"tenants/{world.tenant_b}/forms/files/{kept.file_id}"]
        assert await admin_b.download(kept.file_id) == ("text/plain", b"b's")


async def test_a_purged_forms_submissions_take_their_files_with_them(db_backend_url: str, tmp_path: Path) -> None:
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        fw = FormsWorld(mesh, world)
        admin = fw.as_("admin_a")
        for key in ("claim", "other"):
            form = forms_pb.Form(key=key, draft=definition(FILE_FORM))
            await fw.forms.CreateForm(forms_pb.CreateFormRequest(form=form), metadata=admin)
            await fw.forms.PublishForm(forms_pb.PublishFormRequest(key=key), metadata=admin)
        member = Caller(mesh, world.tokens["member_a"], world.tenant_a)

        async def submitted(key: str) -> list[str]:
            photo = await member.upload(upload_messages(b"\x89PNG" + b"p" * 100, "image/png"))
            scan = await member.upload(upload_messages(b"%PDF-1.7", "application/pdf"))
            answers = {"name": "Ada", "photo": photo.file_id, "documents": [{"scan": scan.file_id}]}
            request = forms_pb.SubmitFormRequest(form_key=key, answers=dict_to_struct(answers))
            await fw.submissions.SubmitForm(request, metadata=fw.as_("member_a"))
            return [photo.file_id, scan.file_id]

        purged = [*await submitted("claim"), *await submitted("claim")]
        kept = await submitted("other")
        response = await fw.forms.DeleteForm(forms_pb.DeleteFormRequest(key="claim", purge=True), metadata=admin)
        assert response.purged_submissions == 2
        # Rows, content and reminders of the purged submissions' files are gone; the other form's stay.
        assert sorted(row.file_id for row in await stored_rows(mesh, world.tenant_a)) == sorted(kept)
        assert sorted(await reminders(mesh)) == sorted(kept)  # until the sweeper sees them attached
        assert blob_files(tmp_path) == sorted(kept)
        for file_id in purged:
            await expect_error(
                Caller(mesh, world.tokens["admin_a"], world.tenant_a).download(file_id),
                grpc.StatusCode.NOT_FOUND,
                "FILE_NOT_FOUND",
            )
        assert await forms_app(mesh).files.sweeper.sweep_once() == 0


async def test_content_gone_under_its_row_is_not_found(db_backend_url: str, tmp_path: Path) -> None:
    """A DownloadFile that read the row just before a DeleteFile removed the content was INTERNAL."""
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        admin_a = Caller(mesh, world.tokens["admin_a"], world.tenant_a)
        uploaded = await admin_a.upload(upload_messages(b"soon gone", "text/plain"))
        [content] = (tmp_path / "blobs").rglob(uploaded.file_id)
        content.unlink()
        await expect_error(admin_a.download(uploaded.file_id), grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")


async def test_a_cancelled_upload_leaves_its_reminder_due_for_the_sweeper(db_backend_url: str, tmp_path: Path) -> None:
    """Cancelled, an upload may have reached the store (the object store took it as the cancel
    landed): its reminder stays, due now, so the sweeper removes what was kept. A broken stream
    keeps nothing and leaves no reminder (test_a_malformed_message_in_the_upload_stream...)."""
    async with files_platform(db_backend_url, tmp_path) as (mesh, world):
        files = forms_app(mesh).files.files
        tenant = await forms_app(mesh).tenants.lookup(world.tenant_a)
        assert tenant is not None

        async def cancelled() -> AsyncIterator[bytes]:
            yield b"first part"
            raise asyncio.CancelledError

        principal_var.set(Principal(subject="user:u-1", tenant_id=world.tenant_a))
        with acting_for(tenant), pytest.raises(asyncio.CancelledError):
            await files.upload("a.txt", "text/plain", cancelled())
        [left] = await reminders(mesh)
        async with mesh.runtime.db.core_session() as session:
            due = (await session.execute(select(FileReminderRow.due_time))).scalar_one()
        assert due <= utcnow()
        assert await stored_rows(mesh, world.tenant_a) == []
        assert left
