"""A service's definition as the catalogue stores it, and the checks it must pass.

protovalidate has checked each field on its own before a handler runs; these
are the checks that need the whole definition (a menu entry's permission must
be one the service defines, a parent must exist, a schema must be a schema)
or knowledge protovalidate lacks (JSON Schema, descriptor sets). Every
problem is collected, so the caller gets all of them in one answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.registry import contracts, schemas, semver
from services.registry.reasons import RegistryReason
from services.registry.secrets import misplaced_secret_markers
from services.runtime.errors import CommonReason, FieldViolation, InvalidArgument, Reason
from services.runtime.json_documents import json_path


class ServiceKind(StrEnum):
    """tenantmesh.registry.v1.ServiceKind without its prefix, as stored."""

    INTERNAL_GRPC = "INTERNAL_GRPC"
    EXTERNAL_HTTP = "EXTERNAL_HTTP"


class ContractFormat(StrEnum):
    """tenantmesh.registry.v1.ContractFormat without its prefix, as stored."""

    DESCRIPTOR_SET = "DESCRIPTOR_SET"
    OPENAPI = "OPENAPI"


class HealthState(StrEnum):
    """tenantmesh.registry.v1.HealthState without its prefix, as stored."""

    UNKNOWN = "UNKNOWN"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"


KINDS = tuple(ServiceKind)
DESCRIPTOR_SET = ContractFormat.DESCRIPTOR_SET
OPENAPI = ContractFormat.OPENAPI
CONTRACT_FOR_KIND: dict[str, ContractFormat] = {
    ServiceKind.INTERNAL_GRPC: DESCRIPTOR_SET,
    ServiceKind.EXTERNAL_HTTP: OPENAPI,
}
UPDATABLE_FIELDS = (
    "display_name",
    "description",
    "owner",
    "tags",
    "config_schema",
    "menu_entries",
    "forms",
    "permissions",
    "health_check",
)


@dataclass(frozen=True)
class MenuEntry:
    id: str
    label: str
    route: str = ""
    icon: str = ""
    order: int = 0
    parent: str = ""
    required_permission: str = ""
    # The label by locale ("id"); stored rows written before translations existed have none.
    label_translations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Form:
    id: str
    title: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Permission:
    name: str
    description: str = ""


@dataclass(frozen=True)
class HealthCheck:
    interval_seconds: int = 0
    timeout_seconds: int = 0
    unhealthy_threshold: int = 0
    healthy_threshold: int = 0
    http_path: str = ""
    grpc_service: str = ""


@dataclass(frozen=True)
class ServiceDefinition:
    """Everything about a service but its versions and bookkeeping."""

    name: str
    kind: str  # one of KINDS, or "" when the caller gave none
    display_name: str = ""
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    # None: the service takes no configuration (any object is accepted).
    config_schema: dict[str, Any] | None = None
    menu_entries: tuple[MenuEntry, ...] = ()
    forms: tuple[Form, ...] = ()
    permissions: tuple[Permission, ...] = ()
    health_check: HealthCheck = field(default_factory=HealthCheck)


@dataclass(frozen=True)
class VersionSpec:
    version: str
    contract_format: str  # "", DESCRIPTOR_SET or OPENAPI
    contract: bytes  # descriptor set, or the OpenAPI document as JSON


def raise_if_any(violations: Sequence[FieldViolation], message: str) -> None:
    """INVALID_ARGUMENT with every violation; the reason is theirs when they share one."""
    if not violations:
        return
    reasons = {v.reason for v in violations}
    shared: Reason | None = reasons.pop() if len(reasons) == 1 else None
    reason = (
        shared if shared in (schemas.SCHEMA_INVALID, RegistryReason.CONTRACT_INVALID) else CommonReason.FIELD_INVALID
    )
    raise InvalidArgument(message, reason=reason, violations=violations)


def definition_violations(definition: ServiceDefinition, base: str = "service") -> list[FieldViolation]:
    found: list[FieldViolation] = []
    if not definition.name:
        found.append(FieldViolation(f"{base}.name", "value is required"))
    if definition.kind not in KINDS:
        found.append(FieldViolation(f"{base}.kind", f"must be one of {', '.join(KINDS)}"))
    if definition.config_schema is not None:
        found += schemas.schema_violations(definition.config_schema, f"{base}.config_schema")
        found += [
            FieldViolation(
                json_path(f"{base}.config_schema", [*path, "writeOnly"]),
                "writeOnly marks a secret only on a property reached from the root through nested "
                "'properties' (not through $ref, allOf, items and the like); here the value would be "
                "stored and shown in plain text",
                schemas.SCHEMA_INVALID,
            )
            for path in misplaced_secret_markers(definition.config_schema)
        ]
    found += _permission_violations(definition, base)
    found += _menu_violations(definition, base)
    found += _form_violations(definition, base)
    return found


def _repeats(values: Sequence[str]) -> set[int]:
    """Indexes of values that appeared earlier in ``values`` (the first one is not a repeat)."""
    seen: set[str] = set()
    repeats = set()
    for index, value in enumerate(values):
        if value in seen:
            repeats.add(index)
        seen.add(value)
    return repeats


def _permission_violations(definition: ServiceDefinition, base: str) -> list[FieldViolation]:
    found = []
    repeated = _repeats([p.name for p in definition.permissions])
    for index, permission in enumerate(definition.permissions):
        path = f"{base}.permissions[{index}].name"
        if definition.name and not permission.name.startswith(f"{definition.name}."):
            found.append(
                FieldViolation(
                    path, f"must start with the service's name ({definition.name}.)", RegistryReason.PERMISSION_PREFIX
                )
            )
        if index in repeated:
            found.append(FieldViolation(path, "defined more than once", RegistryReason.DUPLICATE))
    return found


def _menu_violations(definition: ServiceDefinition, base: str) -> list[FieldViolation]:
    found = []
    defined = {p.name for p in definition.permissions}
    entries: dict[str, MenuEntry] = {}
    for entry in definition.menu_entries:
        entries.setdefault(entry.id, entry)
    repeated = _repeats([e.id for e in definition.menu_entries])
    for index, entry in enumerate(definition.menu_entries):
        path = f"{base}.menu_entries[{index}]"
        if not entry.id:
            found.append(FieldViolation(f"{path}.id", "value is required"))
        elif index in repeated:
            found.append(FieldViolation(f"{path}.id", "used by more than one entry", RegistryReason.DUPLICATE))
        if entry.required_permission and entry.required_permission not in defined:
            found.append(
                FieldViolation(
                    f"{path}.required_permission",
                    f"{entry.required_permission!r} is not a permission this service defines",
                    RegistryReason.PERMISSION_UNDEFINED,
                )
            )
        if entry.parent:
            if entry.parent not in entries:
                found.append(
                    FieldViolation(f"{path}.parent", f"no entry {entry.parent!r}", RegistryReason.PARENT_UNDEFINED)
                )
            elif _in_cycle(entry, entries):
                found.append(FieldViolation(f"{path}.parent", "entries form a cycle", RegistryReason.PARENT_CYCLE))
    return found


def _in_cycle(entry: MenuEntry, entries: Mapping[str, MenuEntry]) -> bool:
    seen = {entry.id}
    current = entries.get(entry.parent)
    while current is not None:
        if current.id in seen:
            return True
        seen.add(current.id)
        current = entries.get(current.parent) if current.parent else None
    return False


def _form_violations(definition: ServiceDefinition, base: str) -> list[FieldViolation]:
    found = []
    repeated = _repeats([f.id for f in definition.forms])
    for index, form in enumerate(definition.forms):
        path = f"{base}.forms[{index}]"
        if not form.id:
            found.append(FieldViolation(f"{path}.id", "value is required"))
        elif index in repeated:
            found.append(FieldViolation(f"{path}.id", "used by more than one form", RegistryReason.DUPLICATE))
        found += schemas.schema_violations(form.schema, f"{path}.schema")
    return found


def version_violations(kind: str, spec: VersionSpec, path: str) -> list[FieldViolation]:
    """Problems of one version on its own: its number and its contract."""
    found = []
    if semver.parse(spec.version) is None:
        found.append(FieldViolation(f"{path}.version", "must be a semantic version, e.g. 1.2.0"))
    if not spec.contract_format:
        return found
    expected = CONTRACT_FOR_KIND.get(kind)
    field_name = "descriptor_set" if spec.contract_format == DESCRIPTOR_SET else "openapi"
    if expected is not None and spec.contract_format != expected:
        found.append(
            FieldViolation(
                f"{path}.{field_name}",
                f"a {kind} service's contract is {'a descriptor set' if expected == DESCRIPTOR_SET else 'OpenAPI'}",
                RegistryReason.CONTRACT_INVALID,
            )
        )
        return found
    try:
        if spec.contract_format == DESCRIPTOR_SET:
            contracts.parse_descriptor_set(spec.contract)
        else:
            contracts.check_openapi(schemas.loads(spec.contract))
    except contracts.ContractError as exc:
        found.append(FieldViolation(f"{path}.{field_name}", str(exc), RegistryReason.CONTRACT_INVALID))
    return found
