"""JSON Schema (2020-12) checks that report every problem with its path.

Two uses: a document a service registers must itself be a valid 2020-12
schema (its config schema, its forms), and a tenant's configuration must be
valid against the service's config schema. Either way each problem becomes a
field violation addressed by the request field followed by the JSON path
inside the document (``service.config_schema.properties.size.type``,
``config.limits[0].max``), so a caller can fix them all in one go.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from services.registry.reasons import RegistryReason
from services.runtime.errors import FailedPrecondition, FieldViolation
from services.runtime.json_documents import json_path

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_INVALID = RegistryReason.SCHEMA_INVALID
CONFIG_INVALID = RegistryReason.CONFIG_INVALID

_META_VALIDATOR = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)
# Keywords whose value is a reference; only references inside the document are
# allowed, so validating never fetches anything.
_REFERENCE_KEYWORDS = ("$ref", "$dynamicRef")


def dumps(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


# -- is it a schema? ------------------------------------------------------------------------------


def schema_violations(schema: Mapping[str, Any], field: str) -> list[FieldViolation]:
    """Every reason ``schema`` is not a usable 2020-12 schema, each at ``field<JSON path>``."""
    found: dict[str, FieldViolation] = {}

    def add(parts: Sequence[str | int], description: str) -> None:
        path = json_path(field, parts)
        found.setdefault(f"{path}\0{description}", FieldViolation(path, description, SCHEMA_INVALID))

    dialect = schema.get("$schema")
    if dialect is not None and dialect != DIALECT:
        add(["$schema"], f"only JSON Schema 2020-12 is supported ({DIALECT})")
    for error in _META_VALIDATOR.iter_errors(dict(schema)):
        add(list(error.absolute_path), error.message)
    for parts, reference in _references(schema, []):
        if not reference.startswith("#"):
            add(parts, "only references within the document (starting with '#') are allowed")
    if not found:
        for parts, reference in _references(schema, []):
            if not _resolvable(schema, reference):
                add(parts, f"reference {reference!r} does not resolve within the document")
    if not found:
        for parts, reference in _references(schema, []):
            if _loops(schema, reference):
                add(parts, f"reference {reference!r} leads back to itself without reaching into the value")
    return sorted(found.values(), key=lambda v: v.field)


def _references(node: Any, parts: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REFERENCE_KEYWORDS and isinstance(value, str):
                yield [*parts, key], value
            else:
                yield from _references(value, [*parts, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, [*parts, index])


def _resolver(schema: Mapping[str, Any]) -> Any:
    resource = Resource.from_contents(dict(schema), default_specification=DRAFT202012)
    return Registry().with_resource("", resource).resolver_with_root(resource)


def _resolvable(schema: Mapping[str, Any], reference: str) -> bool:
    try:
        _resolver(schema).lookup(reference)
    except Unresolvable:
        return False
    return True


# Keywords whose subschemas apply to the very value their schema applies to. A reference that
# comes back to its own schema through these alone (``{"$ref": "#"}`` at the root, two ``$defs``
# referring to each other) would have a validator recurse forever on any value.
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE_VALUES = ("not", "if", "then", "else")


def _loops(schema: Mapping[str, Any], reference: str) -> bool:
    """Whether following ``reference`` can come back to it without descending into the value."""
    resolver = _resolver(schema)
    on_path: set[int] = set()

    def leads_back(reference: str) -> bool:
        try:
            target = resolver.lookup(reference).contents
        except Unresolvable:
            return False
        if id(target) in on_path:
            return True
        on_path.add(id(target))
        found = any(leads_back(inner) for inner in _in_place_references(target))
        on_path.discard(id(target))
        return found

    return leads_back(reference)


def _in_place_references(node: Any) -> Iterator[str]:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _REFERENCE_KEYWORDS and isinstance(value, str):
            yield value
        elif key in _IN_PLACE_LISTS and isinstance(value, list):
            for child in value:
                yield from _in_place_references(child)
        elif key in _IN_PLACE_VALUES or key == "dependentSchemas":
            children = value.values() if key == "dependentSchemas" and isinstance(value, dict) else [value]
            for child in children:
                yield from _in_place_references(child)


# -- is it valid against the schema? --------------------------------------------------------------


def _holds_secret(parts: Sequence[str | int], secrets: Sequence[Sequence[str]]) -> bool:
    """Whether the value at ``parts`` is a secret, lies inside one or contains one."""
    path = tuple(parts)
    return any(path[: len(secret)] == tuple(secret) or tuple(secret)[: len(path)] == path for secret in secrets)


def instance_violations(
    schema: Mapping[str, Any], instance: Any, field: str, secrets: Sequence[Sequence[str]] = ()
) -> list[FieldViolation]:
    """Every way ``instance`` fails ``schema``, each at ``field<JSON path>`` of the offending value.

    A missing required property is reported at the property's own path, and so
    is each property an ``additionalProperties: false`` refuses. A failure at or above one
    of the ``secrets`` paths names only the rule it breaks: the validator's own message
    quotes the value, and a secret (perhaps the stored one, kept by an update) must never
    be repeated in an answer.
    """
    validator = Draft202012Validator(dict(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)
    found: dict[str, FieldViolation] = {}

    def add(parts: Sequence[str | int], description: str) -> None:
        path = json_path(field, parts)
        found.setdefault(f"{path}\0{description}", FieldViolation(path, description, CONFIG_INVALID))

    try:
        for error in validator.iter_errors(instance):
            parts = list(error.absolute_path)
            if error.validator == "required" and isinstance(error.instance, dict):
                for name in error.validator_value:
                    if name not in error.instance:
                        add([*parts, name], "required property is missing")
            elif error.validator == "additionalProperties" and _unexpected(error):
                for name in _unexpected(error):
                    add([*parts, name], "property is not allowed by the schema")
            elif _holds_secret(parts, secrets):
                add(parts, f"does not satisfy the schema's {error.validator!s} rule")
            else:
                add(parts, error.message)
    except (Unresolvable, RecursionError):
        # Registration checks references (that they resolve, and do not loop), so this is a schema
        # stored before those checks.
        raise FailedPrecondition(
            "the service's schema cannot be used to validate", reason=RegistryReason.SCHEMA_UNUSABLE
        ) from None
    return sorted(found.values(), key=lambda v: v.field)


def _unexpected(error: Any) -> list[str]:
    """The properties an ``additionalProperties: false`` refused (as jsonschema decides them)."""
    if not isinstance(error.instance, dict) or not isinstance(error.schema, dict):
        return []
    declared = set(error.schema.get("properties", {}))
    patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
    return [
        name
        for name in error.instance
        if name not in declared and not any(pattern.search(name) for pattern in patterns)
    ]


def loads(data: bytes | str) -> Any:
    return json.loads(data)
