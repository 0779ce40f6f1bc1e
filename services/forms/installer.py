"""Forms that services contribute, installed in the tenants that enable them (issue 11 §4).

A consumer of the registry's events, run once per event by one replica (a consumer group):

* ``tenant_service.enabled``: the service's contributed forms are installed in that tenant as
  published forms owned by the service (key ``<service>.<form id>``), laid out from their JSON
  Schema by ``generate_definition``; a form archived by an earlier disabling is taken back in use.
* ``tenant_service.disabled``: the service's forms in that tenant are archived (their submissions
  stay).
* ``tenant_service.forms_changed``: the service (enabled in that tenant) now contributes other
  forms: each changed form gets its new definition published as the form's next version (answers
  given before stay pinned to the version they were made against), a new contribution is
  installed; a contribution the service dropped is left as it is (its submissions stay).

Events arrive at least once, and a retried one may come after a later one: each event only names
the tenant and the service, and the installer acts on the service's enablement as the registry has
it when the event is handled (installing when enabled, archiving when not), never on the event's
type. Installing is idempotent (the contribution's hash is kept with the form, so an unchanged
contribution changes nothing). The service's definition is read from the
registry with this service's own credentials; the work in the tenant's database runs in that
tenant's context, as the service ("service:forms").
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf import json_format
from tenantmesh.registry.v1 import events_pb2 as registry_events
from tenantmesh.registry.v1 import registry_service_pb2, registry_service_pb2_grpc, service_pb2

from services.forms.definitions import dumps
from services.forms.engine import check_definition, generate_definition
from services.forms.forms import Forms, NewForm
from services.runtime.context import Principal, TenantContext, principal_var, tenant_var
from services.runtime.credentials import ServiceCredentials
from services.runtime.errors import CommonReason
from services.runtime.events import Event
from services.runtime.rich_status import reason_of
from services.runtime.tenant_directory import TenantDirectory

log = logging.getLogger("tenantmesh.forms.installer")

ENABLED = "tenant_service.enabled"
DISABLED = "tenant_service.disabled"
FORMS_CHANGED = "tenant_service.forms_changed"
GROUP = "forms-installer"
SERVICE_SUBJECT = "service:forms"


def contributed_form(service: str, contribution: service_pb2.FormContribution) -> NewForm | None:
    """The form of one contribution, or None when its schema cannot be a form (logged)."""
    schema: dict[str, Any] = json_format.MessageToDict(contribution.schema)
    definition = generate_definition(schema)
    definition["title"] = {"en": contribution.title}
    if contribution.description:
        definition["description"] = {"en": contribution.description}
    problems = check_definition(definition)
    if problems:
        log.warning(
            "form %s of service %s cannot be installed: %s",
            contribution.id,
            service,
            "; ".join(f"{p.pointer} {p.reason.value}" for p in problems[:5]),
        )
        return None
    return NewForm(
        key=f"{service}.{contribution.id}",
        title=contribution.title,
        description=contribution.description,
        labels={},
        definition=definition,
        allow_edits=False,
        owning_service=service,
        contribution_hash=hashlib.sha256(dumps(definition).encode()).hexdigest(),
    )


@contextlib.contextmanager
def acting_in(tenant: TenantContext) -> Iterator[None]:
    """The tenant's context, as the forms service itself."""
    tenant_token = tenant_var.set(tenant)
    principal_token = principal_var.set(Principal(SERVICE_SUBJECT, tenant.tenant_id))
    try:
        yield
    finally:
        principal_var.reset(principal_token)
        tenant_var.reset(tenant_token)


class EnablementChanged(Exception):
    """The enablement changed while the installer acted on it: the event is handled again."""


class ServiceFormsInstaller:
    def __init__(
        self,
        forms: Forms,
        tenants: TenantDirectory,
        registry: grpc.aio.Channel,
        credentials: ServiceCredentials,
    ) -> None:
        self._forms = forms
        self._tenants = tenants
        self._registry: Any = registry_service_pb2_grpc.CatalogServiceStub(registry)
        self._enablements: Any = registry_service_pb2_grpc.EnabledServiceServiceStub(registry)
        self._credentials = credentials

    async def on_event(self, event: Event) -> None:
        if event.type not in (ENABLED, DISABLED, FORMS_CHANGED) or event.tenant_id is None:
            return
        payload = event.payload
        if not isinstance(payload, registry_events.TenantServiceChanged):
            return
        tenant = await self._tenants.lookup(event.tenant_id)
        if tenant is None:
            return  # the tenant is gone: nothing to install into
        await self.reconcile(tenant, payload.service, announced=event.type in (ENABLED, FORMS_CHANGED))

    async def reconcile(self, tenant: TenantContext, service: str, *, announced: bool) -> None:
        """Brings ``service``'s forms in ``tenant`` in line with its enablement as the registry has
        it now, whichever of its events came: a redelivered event may be older than the last one
        handled (an "enabled" retried after the "disabled" that followed it), and acting on its
        type would install a disabled service's forms or archive an enabled one's. ``announced``
        is what the event said, taken only where the registry cannot answer (see _enabled)."""
        enabled = await self._enabled(tenant, service, announced)
        await self._apply(tenant, service, enabled)
        # Read again: a change handled meanwhile by another replica may have finished before this
        # one did, undoing it. The retry reconciles with the newer state.
        if await self._enabled(tenant, service, announced) != enabled:
            raise EnablementChanged(f"the enablement of {service!r} changed while its forms were being updated")

    async def _apply(self, tenant: TenantContext, service: str, enabled: bool) -> None:
        if enabled:
            await self.install(tenant, service)
        else:
            with acting_in(tenant):
                await self._forms.archive_owned(service)

    async def _enabled(self, tenant: TenantContext, service: str, announced: bool) -> bool:
        """Whether ``tenant`` has ``service`` enabled now (asked of the registry, which owns it).

        A suspended tenant's calls are refused, its enablements included; nobody can change them
        while it is suspended either, so the event's word (``announced``) stands for them: a
        catalogue update's forms reach the tenant now rather than being dead-lettered."""
        metadata = (*await self._credentials.metadata(), ("x-tenant-id", tenant.tenant_id))
        try:
            await self._enablements.GetEnabledService(
                registry_service_pb2.GetEnabledServiceRequest(service=service), metadata=metadata
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            if reason_of(error) == CommonReason.TENANT_SUSPENDED:
                return announced
            raise  # retried: the bus delivers again
        return True

    async def install(self, tenant: TenantContext, service: str) -> list[str]:
        """Installs ``service``'s forms in ``tenant``; returns the keys of the forms that changed."""
        try:
            response = await self._registry.GetService(
                registry_service_pb2.GetServiceRequest(name=service), metadata=await self._credentials.metadata()
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return []  # deleted since it was enabled
            raise  # retried: the bus delivers again
        changed = []
        with acting_in(tenant):
            for contribution in response.service.forms:
                form = contributed_form(service, contribution)
                if form is not None and await self._forms.install(form) is not None:
                    changed.append(form.key)
        return changed
