"""API contracts of service versions, and the breaking-change check between two.

A gRPC service's contract is a ``google.protobuf.FileDescriptorSet``. A new
version breaks the previous one when a client built against the previous one
can stop working: something it uses is gone (message, field, enum, enum
value, service, RPC) or means something else on the wire or in JSON (a field
whose type, label, number or name changed; an RPC whose request or response
type or streaming changed). Elements are compared by fully qualified name;
fields by number first, so a renamed field and a renumbered one are told
apart. Additions never break.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

FieldProto = descriptor_pb2.FieldDescriptorProto


@dataclass(frozen=True)
class ContractBreak:
    kind: str  # stable UPPER_SNAKE kind, e.g. FIELD_REMOVED
    subject: str  # fully qualified element
    description: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: {self.description}"


class ContractError(ValueError):
    """A contract that cannot be read."""


def parse_descriptor_set(data: bytes) -> descriptor_pb2.FileDescriptorSet:
    try:
        descriptors = descriptor_pb2.FileDescriptorSet.FromString(data)
    except DecodeError:
        raise ContractError("not a serialized google.protobuf.FileDescriptorSet") from None
    if not descriptors.file:
        raise ContractError("the descriptor set holds no file")
    names = [f.name for f in descriptors.file]
    if any(not name for name in names):
        raise ContractError("every file in the descriptor set needs a name")
    if len(set(names)) != len(names):
        raise ContractError("the descriptor set holds a file twice")
    return descriptors


def check_openapi(document: Mapping[str, Any]) -> None:
    """An OpenAPI 3 document, as far as the registry relies on it."""
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise ContractError('an OpenAPI document needs "openapi": "3.x.y"')
    if not isinstance(document.get("info"), dict):
        raise ContractError('an OpenAPI document needs an "info" object')
    if "paths" in document and not isinstance(document["paths"], dict):
        raise ContractError('"paths" must be an object')


# -- the index both sides are compared on ---------------------------------------------------------


@dataclass
class _Index:
    messages: dict[str, descriptor_pb2.DescriptorProto]
    enums: dict[str, descriptor_pb2.EnumDescriptorProto]
    services: dict[str, descriptor_pb2.ServiceDescriptorProto]


def _qualify(package: str, name: str) -> str:
    return f"{package}.{name}" if package else name


def _index(descriptors: descriptor_pb2.FileDescriptorSet) -> _Index:
    index = _Index(messages={}, enums={}, services={})

    def add_message(scope: str, message: descriptor_pb2.DescriptorProto) -> None:
        name = _qualify(scope, message.name)
        # Map entries are synthetic: their changes show as the map field's changes.
        if not message.options.map_entry:
            index.messages[name] = message
        for nested in message.nested_type:
            add_message(name, nested)
        for enum in message.enum_type:
            index.enums[_qualify(name, enum.name)] = enum

    for file in descriptors.file:
        for message in file.message_type:
            add_message(file.package, message)
        for enum in file.enum_type:
            index.enums[_qualify(file.package, enum.name)] = enum
        for service in file.service:
            index.services[_qualify(file.package, service.name)] = service
    return index


def _map_entries(descriptors: descriptor_pb2.FileDescriptorSet) -> dict[str, descriptor_pb2.DescriptorProto]:
    entries: dict[str, descriptor_pb2.DescriptorProto] = {}

    def walk(scope: str, message: descriptor_pb2.DescriptorProto) -> None:
        name = _qualify(scope, message.name)
        if message.options.map_entry:
            entries[f".{name}"] = message
        for nested in message.nested_type:
            walk(name, nested)

    for file in descriptors.file:
        for message in file.message_type:
            walk(file.package, message)
    return entries


# -- the check ------------------------------------------------------------------------------------


def breaking_changes(
    previous: descriptor_pb2.FileDescriptorSet, current: descriptor_pb2.FileDescriptorSet
) -> list[ContractBreak]:
    """How ``current`` breaks clients of ``previous``; empty when it does not."""
    old, new = _index(previous), _index(current)
    old_maps, new_maps = _map_entries(previous), _map_entries(current)
    breaks: list[ContractBreak] = []
    for name, message in old.messages.items():
        if name not in new.messages:
            breaks.append(ContractBreak("MESSAGE_REMOVED", name, "message removed"))
            continue
        breaks.extend(_field_breaks(name, message, new.messages[name], old_maps, new_maps))
    for name, enum in old.enums.items():
        if name not in new.enums:
            breaks.append(ContractBreak("ENUM_REMOVED", name, "enum removed"))
            continue
        values = {v.number for v in new.enums[name].value}
        for value in enum.value:
            if value.number not in values:
                breaks.append(
                    ContractBreak("ENUM_VALUE_REMOVED", f"{name}.{value.name}", f"value {value.number} removed")
                )
    for name, service in old.services.items():
        if name not in new.services:
            breaks.append(ContractBreak("SERVICE_REMOVED", name, "service removed"))
            continue
        breaks.extend(_rpc_breaks(name, service, new.services[name]))
    return breaks


def _field_breaks(
    message_name: str,
    old: descriptor_pb2.DescriptorProto,
    new: descriptor_pb2.DescriptorProto,
    old_maps: Mapping[str, descriptor_pb2.DescriptorProto],
    new_maps: Mapping[str, descriptor_pb2.DescriptorProto],
) -> Iterator[ContractBreak]:
    by_number = {f.number: f for f in new.field}
    by_name = {f.name: f for f in new.field}
    for field in old.field:
        subject = f"{message_name}.{field.name}"
        same_number = by_number.get(field.number)
        if same_number is None:
            renumbered = by_name.get(field.name)
            if renumbered is not None:
                yield ContractBreak(
                    "FIELD_NUMBER_CHANGED", subject, f"number changed from {field.number} to {renumbered.number}"
                )
            else:
                yield ContractBreak("FIELD_REMOVED", subject, f"field {field.number} removed")
            continue
        if same_number.name != field.name:
            yield ContractBreak(
                "FIELD_RENAMED", subject, f"field {field.number} renamed to {same_number.name} (JSON name changes)"
            )
        old_type, new_type = _type_of(field, old_maps), _type_of(same_number, new_maps)
        if old_type != new_type:
            yield ContractBreak("FIELD_TYPE_CHANGED", subject, f"type changed from {old_type} to {new_type}")
        elif _label_of(field, old_maps) != _label_of(same_number, new_maps):
            yield ContractBreak(
                "FIELD_LABEL_CHANGED",
                subject,
                f"changed from {_label_of(field, old_maps)} to {_label_of(same_number, new_maps)}",
            )


def _type_of(field: FieldProto, maps: Mapping[str, descriptor_pb2.DescriptorProto]) -> str:
    entry = maps.get(field.type_name) if field.type == FieldProto.TYPE_MESSAGE else None
    if entry is not None:
        key, value = entry.field[0], entry.field[1]
        return f"map<{_type_of(key, maps)}, {_type_of(value, maps)}>"
    if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_ENUM, FieldProto.TYPE_GROUP):
        return field.type_name.lstrip(".")
    return FieldProto.Type.Name(field.type).removeprefix("TYPE_").lower()


def _label_of(field: FieldProto, maps: Mapping[str, descriptor_pb2.DescriptorProto]) -> str:
    if field.type == FieldProto.TYPE_MESSAGE and field.type_name in maps:
        return "map"
    return "repeated" if field.label == FieldProto.LABEL_REPEATED else "singular"


def _rpc_breaks(
    service_name: str, old: descriptor_pb2.ServiceDescriptorProto, new: descriptor_pb2.ServiceDescriptorProto
) -> Iterator[ContractBreak]:
    methods = {m.name: m for m in new.method}
    for method in old.method:
        subject = f"{service_name}.{method.name}"
        current = methods.get(method.name)
        if current is None:
            yield ContractBreak("RPC_REMOVED", subject, "RPC removed")
            continue
        for side, before, after in (
            ("request", method.input_type, current.input_type),
            ("response", method.output_type, current.output_type),
        ):
            if before != after:
                yield ContractBreak(
                    f"RPC_{side.upper()}_CHANGED",
                    subject,
                    f"{side} type changed from {before.lstrip('.')} to {after.lstrip('.')}",
                )
        if (method.client_streaming, method.server_streaming) != (current.client_streaming, current.server_streaming):
            yield ContractBreak("RPC_STREAMING_CHANGED", subject, "streaming changed")


def describe(breaks: Sequence[ContractBreak], limit: int = 20) -> str:
    """The breaks as one line each, at most ``limit`` of them (for error metadata)."""
    lines = [str(b) for b in breaks[:limit]]
    if len(breaks) > limit:
        lines.append(f"... and {len(breaks) - limit} more")
    return "\n".join(lines)
