"""The breaking-change check between two descriptor sets, element by element."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from google.protobuf import descriptor_pb2

from services.registry.contracts import ContractError, breaking_changes, check_openapi, parse_descriptor_set

F = descriptor_pb2.FieldDescriptorProto


def field(
    name: str,
    number: int,
    kind: F.Type.ValueType = F.TYPE_STRING,
    *,
    label: F.Label.ValueType = F.LABEL_OPTIONAL,
    type_name: str = "",
) -> F:
    return F(name=name, number=number, type=kind, label=label, type_name=type_name)


def fileset(
    messages: list[descriptor_pb2.DescriptorProto],
    *,
    enums: Sequence[descriptor_pb2.EnumDescriptorProto] = (),
    services: Sequence[descriptor_pb2.ServiceDescriptorProto] = (),
) -> descriptor_pb2.FileDescriptorSet:
    file = descriptor_pb2.FileDescriptorProto(name="acme/v1/api.proto", package="acme.v1", syntax="proto3")
    file.message_type.extend(messages)
    file.enum_type.extend(enums)
    file.service.extend(services)
    return descriptor_pb2.FileDescriptorSet(file=[file])


def msg(name: str, *fields: F, nested: Sequence[descriptor_pb2.DescriptorProto] = ()) -> descriptor_pb2.DescriptorProto:
    return descriptor_pb2.DescriptorProto(name=name, field=list(fields), nested_type=list(nested))


def enum(name: str, *values: tuple[str, int]) -> descriptor_pb2.EnumDescriptorProto:
    return descriptor_pb2.EnumDescriptorProto(
        name=name, value=[descriptor_pb2.EnumValueDescriptorProto(name=n, number=v) for n, v in values]
    )


def service(name: str, *methods: tuple[str, str, str, bool]) -> descriptor_pb2.ServiceDescriptorProto:
    return descriptor_pb2.ServiceDescriptorProto(
        name=name,
        method=[
            descriptor_pb2.MethodDescriptorProto(
                name=m, input_type=f".acme.v1.{i}", output_type=f".acme.v1.{o}", server_streaming=s
            )
            for m, i, o, s in methods
        ],
    )


BASE = fileset(
    [
        msg("Req", field("id", 1)),
        msg("Res", field("id", 1), field("total", 2, F.TYPE_INT64), field("tags", 3, label=F.LABEL_REPEATED)),
    ],
    enums=[enum("State", ("STATE_UNSPECIFIED", 0), ("STATE_ON", 1))],
    services=[service("Api", ("Get", "Req", "Res", False), ("Watch", "Req", "Res", True))],
)


def kinds(after: descriptor_pb2.FileDescriptorSet) -> set[tuple[str, str]]:
    return {(b.kind, b.subject) for b in breaking_changes(BASE, after)}


def test_identical_and_additions_do_not_break() -> None:
    assert breaking_changes(BASE, BASE) == []
    grown = fileset(
        [
            msg("Req", field("id", 1), field("filter", 2)),
            msg("Res", field("id", 1), field("total", 2, F.TYPE_INT64), field("tags", 3, label=F.LABEL_REPEATED)),
            msg("Extra"),
        ],
        enums=[enum("State", ("STATE_UNSPECIFIED", 0), ("STATE_ON", 1), ("STATE_OFF", 2))],
        services=[
            service("Api", ("Get", "Req", "Res", False), ("Watch", "Req", "Res", True), ("New", "Req", "Res", False)),
            service("Admin", ("Do", "Req", "Res", False)),
        ],
    )
    assert breaking_changes(BASE, grown) == []


def test_removed_field_changed_type_number_label_and_name() -> None:
    after = fileset(
        [
            msg("Req", field("ident", 1)),  # renamed
            msg(
                "Res", field("id", 5), field("total", 2, F.TYPE_STRING), field("tags", 3)
            ),  # renumbered, retyped, label
        ],
        enums=[enum("State", ("STATE_UNSPECIFIED", 0), ("STATE_ON", 1))],
        services=[service("Api", ("Get", "Req", "Res", False), ("Watch", "Req", "Res", True))],
    )
    assert kinds(after) == {
        ("FIELD_RENAMED", "acme.v1.Req.id"),
        ("FIELD_NUMBER_CHANGED", "acme.v1.Res.id"),
        ("FIELD_TYPE_CHANGED", "acme.v1.Res.total"),
        ("FIELD_LABEL_CHANGED", "acme.v1.Res.tags"),
    }
    removed = fileset(
        [msg("Req", field("id", 1)), msg("Res", field("id", 1), field("tags", 3, label=F.LABEL_REPEATED))],
        enums=[enum("State", ("STATE_UNSPECIFIED", 0), ("STATE_ON", 1))],
        services=[service("Api", ("Get", "Req", "Res", False), ("Watch", "Req", "Res", True))],
    )
    assert kinds(removed) == {("FIELD_REMOVED", "acme.v1.Res.total")}


def test_removed_or_changed_rpcs_services_messages_and_enums() -> None:
    after = fileset(
        [msg("Req", field("id", 1)), msg("Other")],
        enums=[enum("State", ("STATE_UNSPECIFIED", 0))],
        services=[service("Api", ("Get", "Req", "Other", False), ("Watch", "Req", "Other", False))],
    )
    assert kinds(after) == {
        ("MESSAGE_REMOVED", "acme.v1.Res"),
        ("ENUM_VALUE_REMOVED", "acme.v1.State.STATE_ON"),
        ("RPC_RESPONSE_CHANGED", "acme.v1.Api.Get"),
        ("RPC_RESPONSE_CHANGED", "acme.v1.Api.Watch"),
        ("RPC_STREAMING_CHANGED", "acme.v1.Api.Watch"),
    }
    gone = fileset([msg("Req", field("id", 1))])
    assert {k for k, _ in kinds(gone)} == {"MESSAGE_REMOVED", "ENUM_REMOVED", "SERVICE_REMOVED"}
    changed_request = fileset(
        [msg("Req", field("id", 1)), msg("Res2"), *BASE.file[0].message_type[1:]],
        enums=[enum("State", ("STATE_UNSPECIFIED", 0), ("STATE_ON", 1))],
        services=[service("Api", ("Get", "Res2", "Res", False), ("Watch", "Req", "Res", True))],
    )
    assert kinds(changed_request) == {("RPC_REQUEST_CHANGED", "acme.v1.Api.Get")}


def test_nested_messages_and_maps_are_compared_by_full_name() -> None:
    entry = descriptor_pb2.DescriptorProto(
        name="LabelsEntry",
        field=[field("key", 1), field("value", 2)],
        options=descriptor_pb2.MessageOptions(map_entry=True),
    )
    before = fileset(
        [
            msg(
                "Outer",
                field("labels", 1, F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".acme.v1.Outer.LabelsEntry"),
                nested=[entry, msg("Inner", field("x", 1))],
            )
        ]
    )
    int_entry = descriptor_pb2.DescriptorProto()
    int_entry.CopyFrom(entry)
    int_entry.field[1].type = F.TYPE_INT32
    after = fileset(
        [
            msg(
                "Outer",
                field("labels", 1, F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".acme.v1.Outer.LabelsEntry"),
                nested=[int_entry, msg("Inner")],
            )
        ]
    )
    breaks = breaking_changes(before, after)
    assert {(b.kind, b.subject) for b in breaks} == {
        ("FIELD_TYPE_CHANGED", "acme.v1.Outer.labels"),
        ("FIELD_REMOVED", "acme.v1.Outer.Inner.x"),
    }
    assert (
        "map<string, string> to map<string, int32>"
        in next(b for b in breaks if b.kind == "FIELD_TYPE_CHANGED").description
    )


def test_unreadable_contracts() -> None:
    with pytest.raises(ContractError):
        parse_descriptor_set(b"\xff\xff not protobuf")
    with pytest.raises(ContractError):
        parse_descriptor_set(descriptor_pb2.FileDescriptorSet().SerializeToString())
    assert parse_descriptor_set(BASE.SerializeToString()) == BASE
    check_openapi({"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {}})
    for document in ({"swagger": "2.0"}, {"openapi": "3.1.0"}, {"openapi": "3.1.0", "info": {}, "paths": []}):
        with pytest.raises(ContractError):
            check_openapi(document)
