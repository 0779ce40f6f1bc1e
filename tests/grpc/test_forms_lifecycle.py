"""Forms: create, read, list, change the draft, publish versions (with their compatibility
reports), archive and delete, in the caller's tenant."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2
from tenantmesh.forms.v1 import form_pb2
from tenantmesh.forms.v1 import form_service_pb2 as pb

from tests.support.errors import expect_error
from tests.support.forms import definition, forms_world, sample_definition


async def test_a_form_is_drafted_published_in_versions_archived_and_deleted(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        admin = fw.as_("admin_a")
        request_id = str(uuid.uuid4())
        create = pb.CreateFormRequest(
            form=pb.Form(key="intake", title="Intake", labels={"team": "ops"}, draft=definition(sample_definition())),
            request_id=request_id,
        )
        form = (await fw.forms.CreateForm(create, metadata=admin)).form
        assert (form.status, form.latest_version, form.etag) == (pb.FORM_STATUS_DRAFT, 0, "1")
        # A retry with the same request id returns the same form; another creation of the key is refused.
        assert (await fw.forms.CreateForm(create, metadata=admin)).form.create_time == form.create_time
        await expect_error(
            fw.forms.CreateForm(pb.CreateFormRequest(form=pb.Form(key="intake")), metadata=admin),
            grpc.StatusCode.ALREADY_EXISTS,
            "FORM_KEY_TAKEN",
        )
        # Not submittable before publishing.
        await expect_error(
            fw.submissions.SubmitForm(pb.SubmitFormRequest(form_key="intake"), metadata=admin),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FORM_NOT_PUBLISHED",
        )
        published = await fw.forms.PublishForm(pb.PublishFormRequest(key="intake", etag=form.etag), metadata=admin)
        assert (published.form.status, published.form.latest_version, published.version.version) == (
            pb.FORM_STATUS_PUBLISHED,
            1,
            1,
        )
        assert len(published.version.content_hash) == 64
        assert not published.version.compatibility.changes
        await expect_error(
            fw.forms.PublishForm(pb.PublishFormRequest(key="intake"), metadata=admin),
            grpc.StatusCode.FAILED_PRECONDITION,
            "DRAFT_UNCHANGED",
        )

        # A new draft that drops a field and requires another: version 2 reports both, breaking.
        document = sample_definition()
        document["schema"]["required"] = ["name", "age"]
        del document["schema"]["properties"]["country"]
        document["fields"] = [f for f in document["fields"] if f["key"] != "country"]
        stale = published.form.etag
        updated = await fw.forms.UpdateForm(
            pb.UpdateFormRequest(
                form=pb.Form(key="intake", draft=definition(document), etag=stale),
                update_mask=field_mask_pb2.FieldMask(paths=["draft"]),
            ),
            metadata=admin,
        )
        await expect_error(
            fw.forms.UpdateForm(
                pb.UpdateFormRequest(
                    form=pb.Form(key="intake", title="x", etag=stale),
                    update_mask=field_mask_pb2.FieldMask(paths=["title"]),
                ),
                metadata=admin,
            ),
            grpc.StatusCode.ABORTED,
            "ETAG_MISMATCH",
        )
        second = (await fw.forms.PublishForm(pb.PublishFormRequest(key="intake"), metadata=admin)).version
        kinds = {(c.field, form_pb2.FieldChangeKind.Name(c.kind)) for c in second.compatibility.changes}
        assert kinds == {("age", "FIELD_CHANGE_KIND_NEWLY_REQUIRED"), ("country", "FIELD_CHANGE_KIND_REMOVED")}
        assert second.compatibility.breaking
        assert updated.form.etag != stale
        versions = await fw.forms.ListFormVersions(pb.ListFormVersionsRequest(key="intake"), metadata=admin)
        assert [v.version for v in versions.versions] == [2, 1]
        first = (
            await fw.forms.GetFormVersion(pb.GetFormVersionRequest(key="intake", version=1), metadata=admin)
        ).version
        assert "country" in first.definition.schema.fields["properties"].struct_value.fields
        await expect_error(
            fw.forms.GetFormVersion(pb.GetFormVersionRequest(key="intake", version=3), metadata=admin),
            grpc.StatusCode.NOT_FOUND,
            "FORM_VERSION_NOT_FOUND",
        )

        # Listing: by status (what menus offer), by label.
        await fw.forms.CreateForm(pb.CreateFormRequest(form=pb.Form(key="draft-only")), metadata=admin)
        listed = await fw.forms.ListForms(pb.ListFormsRequest(status=pb.FORM_STATUS_PUBLISHED), metadata=admin)
        assert [f.key for f in listed.forms] == ["intake"]
        listed = await fw.forms.ListForms(pb.ListFormsRequest(label="team=ops"), metadata=admin)
        assert [f.key for f in listed.forms] == ["intake"]
        page = await fw.forms.ListForms(pb.ListFormsRequest(page_size=1), metadata=admin)
        assert [f.key for f in page.forms] == ["draft-only"]
        assert page.next_page_token
        rest = await fw.forms.ListForms(
            pb.ListFormsRequest(page_size=1, page_token=page.next_page_token), metadata=admin
        )
        assert [f.key for f in rest.forms] == ["intake"]
        assert not rest.next_page_token

        # Archived: no new submissions, not listed as published.
        await fw.forms.ArchiveForm(pb.ArchiveFormRequest(key="intake"), metadata=admin)
        await expect_error(
            fw.submissions.SubmitForm(pb.SubmitFormRequest(form_key="intake"), metadata=admin),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FORM_ARCHIVED",
        )
        listed = await fw.forms.ListForms(pb.ListFormsRequest(status=pb.FORM_STATUS_PUBLISHED), metadata=admin)
        assert not listed.forms
        back = (await fw.forms.UnarchiveForm(pb.UnarchiveFormRequest(key="intake"), metadata=admin)).form
        assert back.status == pb.FORM_STATUS_PUBLISHED

        await fw.forms.DeleteForm(pb.DeleteFormRequest(key="draft-only"), metadata=admin)
        await expect_error(
            fw.forms.GetForm(pb.GetFormRequest(key="draft-only"), metadata=admin),
            grpc.StatusCode.NOT_FOUND,
            "FORM_NOT_FOUND",
        )
