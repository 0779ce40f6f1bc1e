"""The registry's events, made in this one module.

Domain code emits them on the unit of work that makes the change (see
services.runtime.unit_of_work), so they reach the outbox in the same commit.
Payloads are the messages of tenantmesh/registry/v1/events.proto.
"""

from __future__ import annotations

from tenantmesh.registry.v1 import events_pb2, instance_pb2, service_pb2

from services.runtime.events import Event

SERVICE_REGISTERED = "service.registered"
SERVICE_UPDATED = "service.updated"
SERVICE_DELETED = "service.deleted"
TENANT_SERVICE_ENABLED = "tenant_service.enabled"
TENANT_SERVICE_DISABLED = "tenant_service.disabled"
# The tenant changed its configuration of the service.
TENANT_SERVICE_UPDATED = "tenant_service.updated"
# The service, enabled in this tenant, now contributes other forms: one event per enabling tenant,
# so each tenant's copy is brought up to date by the forms service.
TENANT_SERVICE_FORMS_CHANGED = "tenant_service.forms_changed"
INSTANCE_CHANGED = "instance.changed"

ADDED = events_pb2.CHANGE_TYPE_ADDED
UPDATED = events_pb2.CHANGE_TYPE_UPDATED
REMOVED = events_pb2.CHANGE_TYPE_REMOVED


def service_changed(event_type: str, service: service_pb2.Service) -> Event:
    return Event(event_type, None, events_pb2.ServiceChanged(service=service))


def tenant_service_changed(event_type: str, tenant_id: str, service: str) -> Event:
    return Event(event_type, tenant_id, events_pb2.TenantServiceChanged(service=service))


def instance_changed(change: events_pb2.ChangeType, instance: instance_pb2.Instance) -> Event:
    return Event(INSTANCE_CHANGED, None, events_pb2.InstanceChanged(change=change, instance=instance))
