"""Forms from services (issue 11 §4): a tenant that enables a registry service gets the forms it
contributes, published and owned by the service; disabling archives them; GenerateForm lays out
any JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from tenantmesh.forms.v1 import form_pb2
from tenantmesh.forms.v1 import form_service_pb2 as pb
from tenantmesh.registry.v1 import registry_service_pb2 as registry_pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as registry_grpc
from tenantmesh.registry.v1 import service_pb2
from tenantmesh.tenants.v1 import tenant_service_pb2

from services.forms.app import FormsApp
from services.forms.engine import generate_definition
from services.forms.forms import NewForm
from services.forms.installer import ServiceFormsInstaller, acting_in, contributed_form
from services.runtime.context import TenantContext
from services.runtime.events import Event, InProcessEventBus
from tests.support.errors import expect_error
from tests.support.forms import FormsWorld, forms_world
from tests.support.platform import bearer
from tests.support.registry import eventually, http_service, struct, unique_name

INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["amount"],
    "properties": {
        "amount": {"type": "number", "title": "Amount", "minimum": 0},
        "currency": {"type": "string", "enum": ["EUR", "IDR"]},
        "note": {"type": "string", "description": "Shown on the invoice"},
    },
}


def forms_app(fw: FormsWorld) -> FormsApp:
    return next(item.app for item in fw.mesh.started if isinstance(item.app, FormsApp))


async def forms_app_in_a(fw: FormsWorld) -> tuple[FormsApp, TenantContext]:
    """The forms service's app, and tenant A as its installer acts in it."""
    app = forms_app(fw)
    tenant = await app.tenants.lookup(fw.world.tenant_a)
    assert tenant is not None
    return app, tenant


async def form_status(fw: FormsWorld, key: str, who: str = "admin_a") -> Any:
    try:
        return (await fw.forms.GetForm(pb.GetFormRequest(key=key), metadata=fw.as_(who))).form
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None


async def service_enabled_in_a(fw: FormsWorld) -> tuple[str, Any, Any]:
    """A new service contributing the invoice form, enabled by tenant A: (name, catalog, enablement stubs)."""
    name = unique_name("billing")
    contribution = service_pb2.FormContribution(id="invoice", title="Invoice", schema=struct(INVOICE_SCHEMA))
    catalog: Any = registry_grpc.CatalogServiceStub(fw.mesh.channel("registry"))
    await catalog.RegisterService(
        registry_pb.RegisterServiceRequest(service=http_service(name, forms=[contribution])),
        metadata=bearer(fw.world.platform_admin),
    )
    enabled: Any = registry_grpc.EnabledServiceServiceStub(fw.mesh.channel("registry"))
    await enabled.EnableService(registry_pb.EnableServiceRequest(service=name), metadata=fw.as_("admin_a"))
    return name, catalog, enabled


async def test_enabling_a_service_installs_its_forms_and_disabling_archives_them(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path, "registry", env={"TENANTMESH_DISCOVERY": "off"}) as fw:
        name, _, enabled = await service_enabled_in_a(fw)
        key = f"{name}.invoice"

        async def installed() -> bool:
            form = await form_status(fw, key)
            return form is not None and form.status == pb.FORM_STATUS_PUBLISHED

        await eventually(installed)
        form = await form_status(fw, key)
        assert (form.owning_service, form.latest_version, form.title) == (name, 1, "Invoice")
        assert await form_status(fw, key, "admin_b") is None  # tenant B did not enable it
        # Members can submit to it; the generated layout took the schema's titles and enum.
        submitted = await fw.submissions.SubmitForm(
            pb.SubmitFormRequest(form_key=key, answers=struct({"amount": 12.5, "currency": "IDR"})),
            metadata=fw.as_("member_a"),
        )
        assert submitted.submission.version == 1
        listed = await fw.forms.ListForms(pb.ListFormsRequest(owning_service=name), metadata=fw.as_("admin_a"))
        assert [f.key for f in listed.forms] == [key]

        # The tenant may change texts, not what the form accepts; nor delete it.
        draft = pb.Form(key=key)
        draft.draft.CopyFrom(form.draft)
        next(field for field in draft.draft.fields if field.key == "amount").label["en"] = "Total amount"
        mask = field_mask_pb2.FieldMask(paths=["draft"])
        await fw.forms.UpdateForm(pb.UpdateFormRequest(form=draft, update_mask=mask), metadata=fw.as_("admin_a"))
        note = next(field for field in draft.draft.fields if field.key == "note")
        note.type = form_pb2.FIELD_TYPE_LONG_TEXT  # what the form accepts is the service's
        await expect_error(
            fw.forms.UpdateForm(pb.UpdateFormRequest(form=draft, update_mask=mask), metadata=fw.as_("admin_a")),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FORM_OWNED_BY_SERVICE",
        )
        await expect_error(
            fw.forms.DeleteForm(pb.DeleteFormRequest(key=key), metadata=fw.as_("admin_a")),
            grpc.StatusCode.FAILED_PRECONDITION,
            "FORM_OWNED_BY_SERVICE",
        )

        await enabled.DisableService(registry_pb.DisableServiceRequest(service=name), metadata=fw.as_("admin_a"))

        async def archived() -> bool:
            form = await form_status(fw, key)
            return form is not None and form.status == pb.FORM_STATUS_ARCHIVED

        await eventually(archived)
        # Enabled again: back in use, its submissions kept.
        await enabled.EnableService(registry_pb.EnableServiceRequest(service=name), metadata=fw.as_("admin_a"))
        await eventually(installed)
        mine = await fw.submissions.ListSubmissions(
            pb.ListSubmissionsRequest(form_key=key), metadata=fw.as_("member_a")
        )
        assert len(mine.submissions) == 1


async def test_generate_form_lays_out_a_json_schema(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        generated = await fw.forms.GenerateForm(
            pb.GenerateFormRequest(json_schema=struct(INVOICE_SCHEMA)), metadata=fw.as_("admin_a")
        )
        assert not generated.problems
        fields = {f.key: f for f in generated.definition.fields}
        assert fields["amount"].label["en"] == "Amount"
        assert fields["currency"].type == form_pb2.FIELD_TYPE_SINGLE_CHOICE
        assert fields["note"].help_text["en"] == "Shown on the invoice"
        # The result can be saved as a form's draft as it is.
        form = pb.Form(key="invoice", draft=generated.definition)
        await fw.forms.CreateForm(pb.CreateFormRequest(form=form), metadata=fw.as_("admin_a"))
        broken = await fw.forms.GenerateForm(
            pb.GenerateFormRequest(json_schema=struct({"type": "object", "properties": {"x": {"type": ["a"]}}})),
            metadata=fw.as_("admin_a"),
        )
        assert broken.problems


async def test_generate_form_lists_the_problems_of_recursive_schemas_and_odd_formats(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        for schema in (
            {"type": "object", "properties": {"child": {"$ref": "#"}}},
            {
                "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
                "$ref": "#/$defs/node",
            },
            {"type": "object", "properties": {"a": {"type": "string", "format": {"x": 1}}}},
        ):
            generated = await fw.forms.GenerateForm(
                pb.GenerateFormRequest(json_schema=struct(schema)), metadata=fw.as_("admin_a")
            )
            assert generated.problems, schema


# A service's form with a property named like a field text: its schema is the service's too.
TEXT_NAMED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"label": {"type": "string", "maxLength": 10}, "other": {"type": "string", "maxLength": 10}},
}


async def test_a_property_named_like_a_text_is_the_services_to_change(db_backend_url: str, tmp_path: Path) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        app, tenant = await forms_app_in_a(fw)
        with acting_in(tenant):
            await app.forms.install(
                NewForm("svc.labels", "T", "", {}, generate_definition(TEXT_NAMED_SCHEMA), False, "svc")
            )
        admin = fw.as_("admin_a")
        form = await form_status(fw, "svc.labels")
        mask = field_mask_pb2.FieldMask(paths=["draft"])
        # Its texts the tenant may change ...
        relabelled = pb.Form(key="svc.labels")
        relabelled.draft.CopyFrom(form.draft)
        relabelled.draft.fields[0].label["en"] = "Name tag"
        await fw.forms.UpdateForm(pb.UpdateFormRequest(form=relabelled, update_mask=mask), metadata=admin)
        # ... not what its properties accept, whatever they are called.
        for name in ("label", "other"):
            widened = pb.Form(key="svc.labels")
            widened.draft.CopyFrom(form.draft)
            widened.draft.schema.fields["properties"].struct_value.fields[name].struct_value.fields[
                "maxLength"
            ].number_value = 100_000
            await expect_error(
                fw.forms.UpdateForm(pb.UpdateFormRequest(form=widened, update_mask=mask), metadata=admin),
                grpc.StatusCode.FAILED_PRECONDITION,
                "FORM_OWNED_BY_SERVICE",
            )


async def test_a_service_that_changes_its_forms_publishes_new_versions_in_tenants_that_enabled_it(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with forms_world(db_backend_url, tmp_path, "registry", env={"TENANTMESH_DISCOVERY": "off"}) as fw:
        name, catalog, _ = await service_enabled_in_a(fw)
        platform_admin = bearer(fw.world.platform_admin)
        key = f"{name}.invoice"

        async def at_version(version: int, form_key: str = key) -> bool:
            form = await form_status(fw, form_key)
            return form is not None and form.latest_version == version

        await eventually(lambda: at_version(1))
        first = await fw.submissions.SubmitForm(
            pb.SubmitFormRequest(form_key=key, answers=struct({"amount": 3})), metadata=fw.as_("member_a")
        )

        # The service's next definition: the invoice has a due date, and a refund form is new.
        changed = {**INVOICE_SCHEMA, "properties": {**INVOICE_SCHEMA["properties"], "due": {"type": "string"}}}
        refund = service_pb2.FormContribution(id="refund", title="Refund", schema=struct(INVOICE_SCHEMA))
        update = service_pb2.Service(
            name=name,
            forms=[
                service_pb2.FormContribution(id="invoice", title="Invoice", schema=struct(changed)),
                refund,
            ],
        )
        await catalog.UpdateService(
            registry_pb.UpdateServiceRequest(service=update, update_mask=field_mask_pb2.FieldMask(paths=["forms"])),
            metadata=platform_admin,
        )
        await eventually(lambda: at_version(2))
        await eventually(lambda: at_version(1, f"{name}.refund"))
        version = await fw.forms.GetFormVersion(
            pb.GetFormVersionRequest(key=key, version=2), metadata=fw.as_("admin_a")
        )
        assert "due" in {field.key for field in version.version.definition.fields}
        # Answers given before stay pinned to the version they were made against; new ones take the new one.
        kept = await fw.submissions.GetSubmission(
            pb.GetSubmissionRequest(submission_id=first.submission.submission_id), metadata=fw.as_("member_a")
        )
        assert kept.submission.version == 1
        second = await fw.submissions.SubmitForm(
            pb.SubmitFormRequest(form_key=key, answers=struct({"amount": 4, "due": "soon"})),
            metadata=fw.as_("member_a"),
        )
        assert second.submission.version == 2
        # A tenant that did not enable the service gets nothing.
        assert await form_status(fw, key, "admin_b") is None
        assert await form_status(fw, f"{name}.refund", "admin_b") is None


async def test_a_changed_contribution_whose_publishing_failed_is_published_when_the_event_comes_again(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        app, tenant = await forms_app_in_a(fw)

        def contribution(schema: dict[str, Any]) -> NewForm:
            form = contributed_form("svc", service_pb2.FormContribution(id="inv", title="I", schema=struct(schema)))
            assert form is not None
            return form

        changed = {**INVOICE_SCHEMA, "properties": {**INVOICE_SCHEMA["properties"], "due": {"type": "string"}}}

        async def publish_fails(key: str, etag: str, **_: str) -> Any:
            raise ConnectionError("the connection to the database was lost")

        with acting_in(tenant):
            await app.forms.install(contribution(INVOICE_SCHEMA))
            # The new definition is stored, then publishing it fails (the bus delivers the event again).
            monkeypatch.setattr(app.forms, "publish", publish_fails)
            with pytest.raises(ConnectionError):
                await app.forms.install(contribution(changed))
            monkeypatch.undo()
            await app.forms.install(contribution(changed))
        form = await form_status(fw, "svc.inv")
        assert form.latest_version == 2
        version = await fw.forms.GetFormVersion(pb.GetFormVersionRequest(key="svc.inv"), metadata=fw.as_("admin_a"))
        assert "due" in {field.key for field in version.version.definition.fields}


class Handled:
    """The ``tenant_service.*`` events of a running platform, each once the forms installer is done
    with it (a group subscribed after the installer's: the in-process bus hands an event to the
    groups in that order, every attempt of one before the next)."""

    def __init__(self, bus: InProcessEventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe_group("test-handled", "tenant_service.", self._add)

    async def _add(self, event: Event) -> None:
        self.events.append(event)

    async def nth(self, count: int, event_type: str, service: str) -> Event:
        def matching() -> list[Event]:
            return [e for e in self.events if e.type == event_type and e.payload_dict()["service"] == service]

        async def arrived() -> bool:
            return len(matching()) >= count

        await eventually(arrived)
        return matching()[count - 1]


def in_process_bus(fw: FormsWorld) -> InProcessEventBus:
    bus = fw.mesh.runtime.events
    assert isinstance(bus, InProcessEventBus)
    return bus


async def redelivered(bus: InProcessEventBus, event: Event) -> None:
    """Delivers ``event`` again, and checks the installer handled it this time."""
    dead = len(bus.dead_letters)
    await bus.publish(event)
    assert bus.dead_letters[dead:] == []


async def test_an_enabling_delivered_again_after_the_disabling_installs_nothing(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forms_world(db_backend_url, tmp_path, "registry", env={"TENANTMESH_DISCOVERY": "off"}) as fw:
        bus = in_process_bus(fw)
        handled = Handled(bus)

        async def registry_unavailable(*_: Any) -> list[str]:
            raise ConnectionError("the registry is unavailable")

        # The installer cannot read the contribution: every delivery of the enabling fails ...
        monkeypatch.setattr(ServiceFormsInstaller, "install", registry_unavailable)
        name, _, enabled = await service_enabled_in_a(fw)
        failed = await handled.nth(1, "tenant_service.enabled", name)
        monkeypatch.undo()
        # ... then the tenant disables the service, and that is handled ...
        await enabled.DisableService(registry_pb.DisableServiceRequest(service=name), metadata=fw.as_("admin_a"))
        await handled.nth(1, "tenant_service.disabled", name)
        # ... before the enabling comes again: a disabled service gets no forms.
        await redelivered(bus, failed)
        assert await form_status(fw, f"{name}.invoice") is None


async def test_a_disabling_delivered_again_after_the_enabling_archives_nothing(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forms_world(db_backend_url, tmp_path, "registry", env={"TENANTMESH_DISCOVERY": "off"}) as fw:
        bus = in_process_bus(fw)
        handled = Handled(bus)
        app = forms_app(fw)
        name, _, enabled = await service_enabled_in_a(fw)
        key = f"{name}.invoice"
        await handled.nth(1, "tenant_service.enabled", name)

        async def database_unavailable(*_: Any) -> list[str]:
            raise ConnectionError("the connection to the database was lost")

        # Every delivery of the disabling fails ...
        monkeypatch.setattr(app.forms, "archive_owned", database_unavailable)
        await enabled.DisableService(registry_pb.DisableServiceRequest(service=name), metadata=fw.as_("admin_a"))
        failed = await handled.nth(1, "tenant_service.disabled", name)
        monkeypatch.undo()
        # ... the tenant enables the service again ...
        await enabled.EnableService(registry_pb.EnableServiceRequest(service=name), metadata=fw.as_("admin_a"))
        await handled.nth(2, "tenant_service.enabled", name)
        # ... before the disabling comes again: the enabled service's form stays in use.
        await redelivered(bus, failed)
        form = await form_status(fw, key)
        assert form.status == pb.FORM_STATUS_PUBLISHED


async def test_an_archived_form_whose_publishing_failed_after_its_unarchiving_is_published_when_the_event_comes_again(
    db_backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        app, tenant = await forms_app_in_a(fw)
        form = contributed_form("svc", service_pb2.FormContribution(id="inv", title="I", schema=struct(INVOICE_SCHEMA)))
        assert form is not None
        with acting_in(tenant):
            await app.forms.install(form)
        # The tenant relabels a field in the draft; then the service is disabled.
        stored = await form_status(fw, "svc.inv")
        draft = pb.Form(key="svc.inv")
        draft.draft.CopyFrom(stored.draft)
        next(field for field in draft.draft.fields if field.key == "amount").label["en"] = "Total amount"
        await fw.forms.UpdateForm(
            pb.UpdateFormRequest(form=draft, update_mask=field_mask_pb2.FieldMask(paths=["draft"])),
            metadata=fw.as_("admin_a"),
        )

        async def publish_fails(key: str, etag: str, **_: Any) -> Any:
            raise ConnectionError("the connection to the database was lost")

        with acting_in(tenant):
            await app.forms.archive_owned("svc")
            # Enabled again, the unchanged contribution is taken back in use; its publishing fails.
            monkeypatch.setattr(app.forms, "publish", publish_fails)
            with pytest.raises(ConnectionError):
                await app.forms.install(form)
            monkeypatch.undo()
            await app.forms.install(form)
        installed = await form_status(fw, "svc.inv")
        assert (installed.status, installed.latest_version) == (pb.FORM_STATUS_PUBLISHED, 2)


async def test_a_suspended_tenants_forms_follow_a_catalogue_change(db_backend_url: str, tmp_path: Path) -> None:
    # The registry refuses a suspended tenant's calls, its enablements included: the installer
    # could not tell whether the service was still enabled, retried, and dead-lettered the change,
    # so the tenant came back from its suspension with the old forms. Nobody can change a
    # suspended tenant's enablements, so the event's word stands.
    async with forms_world(db_backend_url, tmp_path, "registry", env={"TENANTMESH_DISCOVERY": "off"}) as fw:
        bus = in_process_bus(fw)
        handled = Handled(bus)
        name, catalog, _ = await service_enabled_in_a(fw)
        key = f"{name}.invoice"

        async def at_version(version: int) -> bool:
            form = await form_status(fw, key)
            return form is not None and form.latest_version == version

        await eventually(lambda: at_version(1))
        tenants = fw.mesh.tenants
        admin = bearer(fw.world.platform_admin)
        await tenants.SuspendTenant(
            tenant_service_pb2.SuspendTenantRequest(tenant_id=fw.world.tenant_a), metadata=admin
        )
        changed = {**INVOICE_SCHEMA, "properties": {**INVOICE_SCHEMA["properties"], "due": {"type": "string"}}}
        update = service_pb2.Service(
            name=name, forms=[service_pb2.FormContribution(id="invoice", title="Invoice", schema=struct(changed))]
        )
        dead = len(bus.dead_letters)
        await catalog.UpdateService(
            registry_pb.UpdateServiceRequest(service=update, update_mask=field_mask_pb2.FieldMask(paths=["forms"])),
            metadata=admin,
        )
        await handled.nth(1, "tenant_service.forms_changed", name)
        assert bus.dead_letters[dead:] == []
        await tenants.ResumeTenant(tenant_service_pb2.ResumeTenantRequest(tenant_id=fw.world.tenant_a), metadata=admin)
        assert await at_version(2)
