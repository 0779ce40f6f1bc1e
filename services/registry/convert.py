"""Registry records ↔ protobuf messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace

from tenantmesh.registry.v1 import enabled_service_pb2, instance_pb2, service_pb2

from services.registry.definitions import (
    DESCRIPTOR_SET,
    OPENAPI,
    Form,
    HealthCheck,
    HealthState,
    MenuEntry,
    Permission,
    ServiceDefinition,
    ServiceKind,
    VersionSpec,
)
from services.registry.models import EnabledServiceRow, InstanceRow
from services.registry.repository import ServiceRecord, VersionRecord
from services.registry.schemas import dumps
from services.registry.secrets import Pointer, hidden
from services.runtime.json_documents import dict_to_struct, struct_to_dict
from services.runtime.proto_values import copy_fields, dataclass_from, from_proto, timestamp
from services.runtime.resources import stamps


def kind_name(kind: int) -> str:
    """SERVICE_KIND_INTERNAL_GRPC -> ServiceKind.INTERNAL_GRPC; unspecified -> ""."""
    return from_proto(ServiceKind, service_pb2.ServiceKind, kind) or ""


def health_name(state: int) -> str:
    """HEALTH_STATE_HEALTHY -> HealthState.HEALTHY; unspecified -> "" (matches nothing)."""
    return from_proto(HealthState, instance_pb2.HealthState, state) or ""


# -- proto -> domain ------------------------------------------------------------------------------


def definition_of(service: service_pb2.Service) -> ServiceDefinition:
    return ServiceDefinition(
        name=service.name,
        kind=kind_name(service.kind),
        display_name=service.display_name,
        description=service.description,
        owner=service.owner,
        tags=tuple(service.tags),
        config_schema=(
            struct_to_dict(service.config_schema, "service.config_schema")
            if service.HasField("config_schema")
            else None
        ),
        menu_entries=tuple(_menu_entry(e) for e in service.menu_entries),
        forms=tuple(
            Form(
                id=f.id,
                title=f.title,
                description=f.description,
                schema=struct_to_dict(f.schema, f"service.forms[{i}].schema"),
            )
            for i, f in enumerate(service.forms)
        ),
        permissions=tuple(dataclass_from(Permission, p) for p in service.permissions),
        health_check=dataclass_from(HealthCheck, service.health_check),
    )


def version_spec_of(version: service_pb2.ServiceVersion) -> VersionSpec:
    contract = version.WhichOneof("contract")
    if contract == "descriptor_set":
        return VersionSpec(version.version, DESCRIPTOR_SET, version.descriptor_set)
    if contract == "openapi":
        return VersionSpec(version.version, OPENAPI, dumps(struct_to_dict(version.openapi, "version.openapi")).encode())
    return VersionSpec(version.version, "", b"")


# -- domain -> proto ------------------------------------------------------------------------------


def version_to_proto(record: VersionRecord) -> service_pb2.ServiceVersion:
    message = service_pb2.ServiceVersion(
        version=record.version,
        contract_format=f"CONTRACT_FORMAT_{record.contract_format or 'UNSPECIFIED'}",
        create_time=timestamp(record.create_time),
    )
    if record.contract is not None and record.contract_format == DESCRIPTOR_SET:
        message.descriptor_set = record.contract
    elif record.contract is not None and record.contract_format == OPENAPI:
        message.openapi.CopyFrom(dict_to_struct(json.loads(record.contract)))
    return message


def service_to_proto(record: ServiceRecord) -> service_pb2.Service:
    """The service; versions carry their contracts only if the record loaded them."""
    definition = record.definition
    check = definition.health_check
    message = service_pb2.Service(
        name=definition.name,
        display_name=definition.display_name,
        description=definition.description,
        kind=f"SERVICE_KIND_{definition.kind}",
        owner=definition.owner,
        tags=list(definition.tags),
        menu_entries=[service_pb2.MenuEntry(**asdict(e)) for e in definition.menu_entries],
        forms=[
            service_pb2.FormContribution(
                id=f.id, title=f.title, description=f.description, schema=dict_to_struct(f.schema)
            )
            for f in definition.forms
        ],
        permissions=[
            service_pb2.PermissionDefinition(name=p.name, description=p.description) for p in definition.permissions
        ],
        versions=[version_to_proto(v) for v in record.versions],
        health_check=service_pb2.HealthCheck(**asdict(check)),
        **stamps(record),
    )
    if definition.config_schema is not None:
        message.config_schema.CopyFrom(dict_to_struct(definition.config_schema))
    return message


def instance_to_proto(row: InstanceRow) -> instance_pb2.Instance:
    return instance_pb2.Instance(
        **copy_fields(row, "instance_id", "service", "version", "address", "last_check_error"),
        metadata=json.loads(row.metadata_json),
        health=f"HEALTH_STATE_{row.health}",
        register_time=timestamp(row.register_time),
        lease_expire_time=timestamp(row.lease_until),
        last_check_time=timestamp(row.last_check_time),
    )


def enabled_service_to_proto(row: EnabledServiceRow, secrets: Sequence[Pointer]) -> enabled_service_pb2.EnabledService:
    """``secrets``: the paths the service's schema marks secret now. Secret fields are never
    returned, only named as set."""
    config, secret_fields = hidden(json.loads(row.config_json), secrets)
    return enabled_service_pb2.EnabledService(
        service=row.service,
        config=dict_to_struct(config),
        secret_fields=secret_fields,
        **stamps(row),
    )


def _menu_entry(message: service_pb2.MenuEntry) -> MenuEntry:
    # The map field is copied: a dataclass must not hold a view into the request message.
    return replace(dataclass_from(MenuEntry, message), label_translations=dict(message.label_translations))
