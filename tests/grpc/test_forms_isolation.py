"""Forms across tenants: the isolation matrix over the forms service's RPCs, and the ids of another
tenant's forms, submissions and page tokens, which answer exactly as ids that exist nowhere."""

from __future__ import annotations

from pathlib import Path

import grpc
from tenantmesh.forms.v1 import file_service_pb2
from tenantmesh.forms.v1 import form_service_pb2 as pb

from tests.support.errors import expect_error
from tests.support.forms import definition, forms_world, sample_definition
from tests.support.isolation import SOME_ID, GrpcCaller, run_matrix, served_rpcs
from tests.support.platform import bearer


def declared_forms_rpcs() -> set[str]:
    services = [*pb.DESCRIPTOR.services_by_name.values(), *file_service_pb2.DESCRIPTOR.services_by_name.values()]
    return {f"/{service.full_name}/{method.name}" for service in services for method in service.methods}


async def test_forms_isolation_matrix_grpc(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        rpcs = [rpc for rpc in served_rpcs(fw.mesh.started) if rpc.server == "forms"]
        assert {rpc.path for rpc in rpcs if "forms.v1" in rpc.path} == declared_forms_rpcs()
        caller = GrpcCaller()
        try:
            result = await run_matrix(fw.world, rpcs, caller)
        finally:
            await caller.close()
        print(result.summary("gRPC, forms"))
        assert not result.leaks, "\n".join(result.leaks)


async def test_another_tenants_forms_submissions_and_tokens_are_unknown(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        admin_a, admin_b = fw.as_("admin_a"), fw.as_("admin_b")
        for key in ("a-only", "a-second"):
            form = pb.Form(key=key, draft=definition(sample_definition()))
            await fw.forms.CreateForm(pb.CreateFormRequest(form=form), metadata=admin_a)
            await fw.forms.PublishForm(pb.PublishFormRequest(key=key), metadata=admin_a)
        created = await fw.submissions.SubmitForm(
            pb.SubmitFormRequest(form_key="a-only", answers={"name": "Ada"}), metadata=admin_a
        )
        a_submission = created.submission.submission_id
        forms_page = await fw.forms.ListForms(pb.ListFormsRequest(page_size=1), metadata=admin_a)
        await fw.submissions.SubmitForm(
            pb.SubmitFormRequest(form_key="a-only", answers={"name": "Bo"}), metadata=admin_a
        )
        submissions_page = await fw.submissions.ListSubmissions(
            pb.ListSubmissionsRequest(page_size=1), metadata=admin_a
        )
        assert forms_page.next_page_token
        assert submissions_page.next_page_token

        # In tenant B, A's key and A's submission id answer exactly like ones that exist nowhere.
        for key in ("a-only", "never-made"):
            for call in (
                fw.forms.GetForm(pb.GetFormRequest(key=key), metadata=admin_b),
                fw.forms.PublishForm(pb.PublishFormRequest(key=key), metadata=admin_b),
                fw.forms.DeleteForm(pb.DeleteFormRequest(key=key, purge=True), metadata=admin_b),
                fw.submissions.SubmitForm(pb.SubmitFormRequest(form_key=key), metadata=admin_b),
                fw.submissions.ListSubmissions(pb.ListSubmissionsRequest(form_key=key), metadata=admin_b),
            ):
                await expect_error(call, grpc.StatusCode.NOT_FOUND, "FORM_NOT_FOUND")
            stream = fw.submissions.ExportSubmissions(pb.ExportSubmissionsRequest(form_key=key), metadata=admin_b)
            await expect_error(_drain(stream), grpc.StatusCode.NOT_FOUND, "FORM_NOT_FOUND")
        for submission_id in (a_submission, SOME_ID):
            for call in (
                fw.submissions.GetSubmission(pb.GetSubmissionRequest(submission_id=submission_id), metadata=admin_b),
                fw.submissions.DeleteSubmission(
                    pb.DeleteSubmissionRequest(submission_id=submission_id), metadata=admin_b
                ),
                fw.submissions.ListSubmissionRevisions(
                    pb.ListSubmissionRevisionsRequest(submission_id=submission_id), metadata=admin_b
                ),
            ):
                await expect_error(call, grpc.StatusCode.NOT_FOUND, "SUBMISSION_NOT_FOUND")
        # A's page tokens are not B's: refused, never a page of anything.
        await expect_error(
            fw.forms.ListForms(
                pb.ListFormsRequest(page_size=1, page_token=forms_page.next_page_token), metadata=admin_b
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PAGE_TOKEN_INVALID",
        )
        await expect_error(
            fw.submissions.ListSubmissions(
                pb.ListSubmissionsRequest(page_size=1, page_token=submissions_page.next_page_token), metadata=admin_b
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PAGE_TOKEN_INVALID",
        )
        # A platform administrator acting on B (x-tenant-id) sees B's forms, none of A's.
        platform_b = (*bearer(fw.world.platform_admin), ("x-tenant-id", fw.world.tenant_b))
        assert not (await fw.forms.ListForms(pb.ListFormsRequest(), metadata=platform_b)).forms
        # A still has everything.
        assert (
            len((await fw.submissions.ListSubmissions(pb.ListSubmissionsRequest(), metadata=admin_a)).submissions) == 2
        )


async def _drain(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass
