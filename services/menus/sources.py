"""Where entries come from besides the platform's own: the services a tenant enabled (their
registry ``menu_entries``) and the forms it published. Each source answers for the current
call's tenant, asking the owning service with the menus service's own credentials: the entries
a member sees do not depend on whether the member may read the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from tenantmesh.forms.v1 import form_service_pb2 as forms_pb
from tenantmesh.forms.v1 import form_service_pb2_grpc as forms_grpc
from tenantmesh.registry.v1 import registry_service_pb2 as registry_pb
from tenantmesh.registry.v1 import registry_service_pb2_grpc as registry_grpc

from services.menus.entries import ROOT, Entry, Kind, Source, form_key, platform_key, service_key
from services.menus.platform_entries import FORMS_SECTION
from services.runtime.access import policy_of
from services.runtime.context import current_tenant
from services.runtime.credentials import ServiceCredentials

# Pages as large as the registry gives: a tenant's catalogue is read in a few calls.
_PAGE = 500
_TIMEOUT_SECONDS = 10


class EntrySource(Protocol):
    # Named in logs when the source cannot be reached.
    name: str

    async def entries(self) -> list[Entry]:
        """The source's entries for the current call's tenant."""
        ...


class RegistryContributions:
    """The ``menu_entries`` of every service the tenant enabled."""

    name = "registry"

    def __init__(self, channel: Callable[[], grpc.aio.Channel], credentials: ServiceCredentials) -> None:
        # Called per use: the registry's address may change while this process runs (tests bind fresh ports).
        self._channel = channel
        self._credentials = credentials

    async def entries(self) -> list[Entry]:
        stub: Any = registry_grpc.EnabledServiceServiceStub(self._channel())
        metadata = (*await self._credentials.metadata(), ("x-tenant-id", current_tenant().tenant_id))
        enabled: set[str] = set()
        token = ""
        while True:
            page = await stub.ListEnabledServices(
                registry_pb.ListEnabledServicesRequest(page_size=_PAGE, page_token=token),
                metadata=metadata,
                timeout=_TIMEOUT_SECONDS,
            )
            enabled.update(item.service for item in page.enabled_services)
            token = page.next_page_token
            if not token:
                break
        if not enabled:
            return []
        found: list[Entry] = []
        token = ""
        while True:
            catalogue = await stub.ListAvailableServices(
                registry_pb.ListAvailableServicesRequest(page_size=_PAGE, page_token=token),
                metadata=metadata,
                timeout=_TIMEOUT_SECONDS,
            )
            for service in catalogue.services:
                if service.name in enabled:
                    found.extend(_service_entries(service))
            token = catalogue.next_page_token
            if not token:
                return found


def _service_entries(service: Any) -> list[Entry]:
    return [
        Entry(
            key=service_key(service.name, item.id),
            source=Source.SERVICE,
            kind=Kind.ROUTE,
            label=item.label,
            icon=item.icon,
            order=item.order,
            parent=service_key(service.name, item.parent) if item.parent else ROOT,
            route=item.route,
            permissions=(item.required_permission,) if item.required_permission else (),
            service=service.name,
            translations=dict(item.label_translations),
        )
        for item in service.menu_entries
    ]


@dataclass(frozen=True)
class PublishedForm:
    """A published form of the tenant, as the forms service describes it."""

    form_id: str
    title: str
    # The permission that submitting it needs; empty: every member may.
    submit_permission: str = ""
    title_translations: dict[str, str] = field(default_factory=dict)


class FormCatalogue(Protocol):
    """The forms service, as far as menus need it."""

    async def published_forms(self) -> Sequence[PublishedForm]:
        """The current tenant's published forms."""
        ...


def submit_permission() -> str:
    """The permission of the RPC a form's entry leads to (SubmitForm), read from its declaration."""
    method = forms_pb.DESCRIPTOR.services_by_name["SubmissionService"].methods_by_name["SubmitForm"]
    policy = policy_of(method)
    assert policy is not None  # every RPC declares one; the server refuses to start otherwise
    return policy.permission


class FormsService:
    """The forms service's published forms (ListForms with the published filter)."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], credentials: ServiceCredentials) -> None:
        self._channel = channel
        self._credentials = credentials
        self._submit_permission = submit_permission()

    async def published_forms(self) -> Sequence[PublishedForm]:
        stub: Any = forms_grpc.FormServiceStub(self._channel())
        metadata = (*await self._credentials.metadata(), ("x-tenant-id", current_tenant().tenant_id))
        found: list[PublishedForm] = []
        token = ""
        while True:
            page = await stub.ListForms(
                forms_pb.ListFormsRequest(page_size=_PAGE, page_token=token, status=forms_pb.FORM_STATUS_PUBLISHED),
                metadata=metadata,
                timeout=_TIMEOUT_SECONDS,
            )
            found.extend(
                PublishedForm(
                    form_id=form.key,
                    title=form.title or form.key,
                    submit_permission=self._submit_permission,
                    # The title users see is the definition's, by locale; the form's own title is English.
                    title_translations={k: v for k, v in form.draft.title.items() if k != "en" and v},
                )
                for form in page.forms
            )
            token = page.next_page_token
            if not token:
                return found


class FormContributions:
    """An entry for each published form, under the platform's "Forms" section, seen by whoever may submit it."""

    name = "forms"

    def __init__(self, catalogue: FormCatalogue) -> None:
        self._catalogue = catalogue

    async def entries(self) -> list[Entry]:
        return [
            Entry(
                key=form_key(form.form_id),
                source=Source.FORM,
                kind=Kind.FORM,
                label=form.title,
                icon="file-text",
                parent=platform_key(FORMS_SECTION),
                route=f"/forms/{form.form_id}",
                form_id=form.form_id,
                permissions=(form.submit_permission,) if form.submit_permission else (),
                translations=dict(form.title_translations),
            )
            for form in await self._catalogue.published_forms()
        ]
