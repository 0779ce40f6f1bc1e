"""JSON Schema checks, semantic versions, definitions, health transitions and the watch hub, without I/O."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from tenantmesh.registry.v1 import events_pb2, service_pb2

from services.registry import semver
from services.registry.definitions import (
    KINDS,
    Form,
    MenuEntry,
    Permission,
    ServiceDefinition,
    VersionSpec,
    definition_violations,
    version_violations,
)
from services.registry.events import SERVICE_UPDATED
from services.registry.health import EffectiveCheck, _Tally, next_health
from services.registry.reasons import RegistryReason
from services.registry.schemas import instance_violations, schema_violations
from services.registry.secrets import misplaced_secret_markers
from services.registry.watch import WatchHub
from services.runtime.errors import FailedPrecondition, FieldViolation
from services.runtime.events import Event
from services.runtime.json_documents import dict_to_struct, json_path, struct_to_dict


def fields(violations: Sequence[FieldViolation]) -> set[str]:
    return {v.field for v in violations}


def test_json_paths() -> None:
    assert json_path("config", ["a", 0, "b_c", "odd key", 'q"uote']) == 'config.a[0].b_c["odd key"]["q\\"uote"]'


def test_struct_numbers_come_back_as_ints_when_whole() -> None:
    document = {"n": 3, "f": 1.5, "nested": [{"m": 10}], "flag": True}
    assert struct_to_dict(dict_to_struct(document), "config") == document


def test_valid_schema_has_no_violations() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"name": {"type": "string", "minLength": 1}},
        "type": "object",
        "properties": {"name": {"$ref": "#/$defs/name"}},
    }
    assert schema_violations(schema, "s") == []


def test_unresolvable_local_reference() -> None:
    assert fields(schema_violations({"properties": {"a": {"$ref": "#/$defs/nope"}}}, "s")) == {'s.properties.a["$ref"]'}


def test_a_reference_that_leads_back_to_itself_without_reaching_into_the_value_is_refused() -> None:
    # Any value would have a validator recurse forever: found when the schema is registered, not
    # as an INTERNAL error of every tenant's EnableService.
    looping = (
        {"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}},
        {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}}},
        {"if": {"$ref": "#"}},
    )
    for schema in looping:
        found = schema_violations(schema, "s")
        assert found, schema
        # Each at a reference of the loop, as SCHEMA_INVALID.
        assert all(v.field.endswith('["$ref"]') and v.reason == RegistryReason.SCHEMA_INVALID for v in found)
    # Recursion that descends into the value ends with the value: a linked list, a tree.
    recursive = (
        {
            "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
            "$ref": "#/$defs/node",
        },
        {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}},
    )
    for schema in recursive:
        assert schema_violations(schema, "s") == []
    # A schema stored before the check answers SCHEMA_UNUSABLE, not a crash.
    with pytest.raises(FailedPrecondition) as refused:
        instance_violations(looping[0], {"a": 1}, "config")
    assert refused.value.reason == RegistryReason.SCHEMA_UNUSABLE


def test_write_only_marks_a_secret_only_where_the_registry_seals_it() -> None:
    by_reference = {
        "$defs": {"secret": {"type": "string", "writeOnly": True}},
        "properties": {"token": {"$ref": "#/$defs/secret"}},
    }
    in_all_of = {"allOf": [{"properties": {"token": {"type": "string", "writeOnly": True}}}]}
    in_items = {"properties": {"keys": {"type": "array", "items": {"type": "string", "writeOnly": True}}}}
    assert misplaced_secret_markers(by_reference) == [("$defs", "secret")]
    assert misplaced_secret_markers(in_all_of) == [("allOf", 0, "properties", "token")]
    assert misplaced_secret_markers(in_items) == [("properties", "keys", "items")]
    sealed = {
        "properties": {
            "token": {"type": "string", "writeOnly": True},
            # Inside a secret: sealed with it.
            "creds": {"writeOnly": True, "properties": {"key": {"writeOnly": True}}},
            # A property named writeOnly, and data that looks like a marker, mark nothing.
            "writeOnly": True,
            "mode": {"default": {"writeOnly": True}, "const": {"writeOnly": True}},
        }
    }
    assert misplaced_secret_markers(sealed) == []
    definition = ServiceDefinition(name="svc", kind=KINDS[0], config_schema=by_reference)
    assert fields(definition_violations(definition)) == {'service.config_schema["$defs"].secret.writeOnly'}


def test_instance_violations_point_at_the_offending_values() -> None:
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "integer"}}, "name": {"type": "string"}},
        "patternProperties": {"^x-": {}},
        "required": ["items", "name"],
        "additionalProperties": False,
    }
    found = instance_violations(schema, {"items": [1, "two"], "x-ok": 1, "bad": 2}, "config")
    assert fields(found) == {"config.items[1]", "config.name", "config.bad"}
    assert instance_violations(schema, {"items": [], "name": "n"}, "config") == []


def test_semver_precedence() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0", "1.2.0"]
    assert sorted(reversed(ordered), key=semver.sort_key) == ordered
    assert semver.parse("1.0.0+build.7") == semver.parse("1.0.0")
    for bad in ("1.0", "v1.0.0", "01.0.0", "1.0.0-01"):
        assert semver.parse(bad) is None


def test_definition_checks() -> None:
    definition = ServiceDefinition(
        name="billing",
        kind="EXTERNAL_HTTP",
        permissions=(Permission("billing.invoices.read"), Permission("billing.invoices.read")),
        menu_entries=(
            MenuEntry("root", "Billing"),
            MenuEntry("root", "Again", parent="root"),
            MenuEntry("list", "Invoices", parent="root", required_permission="billing.invoices.read"),
        ),
        forms=(Form("f", "Form", "", {"type": "object"}), Form("f", "Form", "", {"type": "object"})),
    )
    assert fields(definition_violations(definition)) == {
        "service.permissions[1].name",
        "service.menu_entries[1].id",
        "service.menu_entries[1].parent",  # its own id
        "service.forms[1].id",
    }
    assert fields(version_violations("INTERNAL_GRPC", VersionSpec("1.0.0", "OPENAPI", b"{}"), "v")) == {"v.openapi"}
    assert version_violations("INTERNAL_GRPC", VersionSpec("1.0.0", "", b""), "v") == []


def test_health_needs_n_failures_and_m_successes() -> None:
    check = EffectiveCheck(1, 1, unhealthy_threshold=3, healthy_threshold=2, http_path="/", grpc_service="")
    assert next_health("UNKNOWN", _Tally(successes=1), check) == "HEALTHY"
    assert next_health("HEALTHY", _Tally(failures=2), check) == "HEALTHY"
    assert next_health("HEALTHY", _Tally(failures=3), check) == "UNHEALTHY"
    assert next_health("UNHEALTHY", _Tally(successes=1), check) == "UNHEALTHY"
    assert next_health("UNHEALTHY", _Tally(successes=2), check) == "HEALTHY"
    assert next_health("UNKNOWN", _Tally(failures=1), check) == "UNKNOWN"


async def test_watch_hub_fans_out_filters_and_overflows() -> None:
    hub = WatchHub(queue_size=2)
    everything, only_a = hub.subscribe([]), hub.subscribe(["a"])

    def changed(service: str) -> Event:
        return Event(SERVICE_UPDATED, None, events_pb2.ServiceChanged(service=service_pb2.Service(name=service)))

    await hub.on_event(changed("a"))
    await hub.on_event(changed("b"))
    await hub.on_event(Event("tenant.created", "t"))  # not a watch event
    assert [everything.queue.get_nowait().service.name for _ in range(2)] == ["a", "b"]  # type: ignore[union-attr]
    assert only_a.queue.qsize() == 1
    for _ in range(2):
        await hub.on_event(changed("a"))
    assert only_a.overflowed
    assert only_a.queue.get_nowait() is None  # the end marker, queued changes dropped
    assert not everything.overflowed
    hub.unsubscribe(only_a)
    assert hub.watcher_count == 1
