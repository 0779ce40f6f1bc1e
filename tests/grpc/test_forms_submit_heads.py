"""SubmitForm checks answers against a form head read in the last seconds, and its insert takes the
submission only while the form's row still is that head (services/forms/submissions.py): another
replica's archive or unarchive, whose event has not arrived yet, is never missed."""

from __future__ import annotations

from pathlib import Path

import grpc
from sqlalchemy import update
from tenantmesh.forms.v1 import form_service_pb2 as pb

from services.forms.models import FormRow
from tests.grpc.test_forms_submissions import publish_sample, stored_rows, submit
from tests.support.errors import expect_error
from tests.support.forms import FormsWorld, forms_world

GOOD = {"name": "Ada", "age": 36}


async def set_status_elsewhere(fw: FormsWorld, key: str, status: str) -> None:
    """The form's row changed as another replica would change it: no event reaches this process."""
    async with fw.mesh.runtime.db.tenant_session(await fw.database_of(fw.world.tenant_a)) as session:
        await session.execute(update(FormRow).where(FormRow.key == key).values(status=status))
        await session.commit()


async def test_a_form_archived_elsewhere_takes_no_submission_and_unarchived_takes_them_again(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        await publish_sample(fw)
        member = fw.as_("member_a")
        # Validation and a first submission leave the form's head in the recent-heads cache.
        await fw.submissions.ValidateSubmission(pb.ValidateSubmissionRequest(form_key="intake"), metadata=member)
        await fw.submissions.SubmitForm(submit("intake", GOOD), metadata=member)

        await set_status_elsewhere(fw, "intake", "ARCHIVED")
        await expect_error(
            fw.submissions.SubmitForm(submit("intake", GOOD), metadata=member),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FORM_ARCHIVED",
        )
        assert len(await stored_rows(fw, fw.world.tenant_a)) == 1

        # The archived head is the recent one now; unarchived elsewhere, the form takes submissions.
        await set_status_elsewhere(fw, "intake", "PUBLISHED")
        created = (await fw.submissions.SubmitForm(submit("intake", GOOD), metadata=member)).submission
        assert created.version == 1
        assert len(await stored_rows(fw, fw.world.tenant_a)) == 2
