"""Secret fields of tenants' service configurations.

A configuration schema marks a property secret with the standard JSON Schema keyword
``writeOnly: true`` (on a property of an object, at any depth of nested objects, reached from
the root through ``properties``; a marker anywhere else, such as under ``$defs`` behind a
``$ref``, would protect nothing and is refused at registration). Such a
value is validated like any other, then sealed with the platform's key-encryption key
before it is stored, bound to the tenant, the service and the field's JSON Pointer (a
sealed value copied to another row or field does not open). No RPC returns it: reads
leave it out of ``config`` and name it in ``secret_fields`` ("set"). An update that
leaves a secret out keeps the stored one (unless it leaves out the object holding it),
so a client that never sees a secret can still change the other fields; a new value
replaces it.

A stored secret is ``{"$sealed": "<base64>"}`` in the configuration document.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from services.runtime.sealing import Sealer

SEALED = "$sealed"

Pointer = tuple[str, ...]


def secret_pointers(schema: Mapping[str, Any] | None) -> list[Pointer]:
    """The paths (object keys from the root) the schema marks ``writeOnly``."""
    if not schema:
        return []
    return list(_walk(schema, ()))


def _walk(node: Mapping[str, Any], path: Pointer) -> Iterator[Pointer]:
    properties = node.get("properties")
    if not isinstance(properties, Mapping):
        return
    for name, child in properties.items():
        if not isinstance(child, Mapping):
            continue
        if child.get("writeOnly") is True:
            yield (*path, str(name))
        else:
            yield from _walk(child, (*path, str(name)))


# Keywords whose values are schemas, by shape: for finding markers wherever a schema may carry
# them, and never in data (``default``, ``const``, ``examples``).
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
)


def misplaced_secret_markers(schema: Mapping[str, Any] | None) -> list[tuple[str | int, ...]]:
    """Paths (in the schema) of ``writeOnly: true`` markers that mark no secret: only a property
    reached from the root through nested ``properties`` is one (what ``secret_pointers`` finds).
    Under ``$defs`` behind a ``$ref``, in ``allOf``, ``items`` and the like, the value would be
    stored and shown in plain text, so a schema holding such a marker is refused."""
    if not schema:
        return []
    secrets = [_schema_path(pointer) for pointer in secret_pointers(schema)]
    return [
        path
        for path in _markers(schema, ())
        if not any(path[: len(secret)] == secret for secret in secrets)  # in a secret: sealed with it
    ]


def _schema_path(pointer: Pointer) -> tuple[str | int, ...]:
    return tuple(part for name in pointer for part in ("properties", name))


def _markers(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if not isinstance(node, Mapping):
        return
    if node.get("writeOnly") is True:
        yield path
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            for name, child in value.items():
                yield from _markers(child, (*path, key, str(name)))
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            for index, child in enumerate(value):
                yield from _markers(child, (*path, key, index))
        elif key in _SCHEMA_VALUES:
            yield from _markers(value, (*path, key))


def pointer_text(path: Pointer) -> str:
    """RFC 6901: ``/a/b``, with ``~`` and ``/`` escaped."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


def _get(document: Any, path: Pointer) -> tuple[bool, Any]:
    node = document
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set(document: dict[str, Any], path: Pointer, value: Any) -> None:
    node = document
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(document))
    return copied


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)


class ConfigSecrets:
    """Seals, opens and hides the secret fields of one tenant's configuration of one service."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    @staticmethod
    def _context(tenant_id: str, service: str, path: Pointer) -> str:
        return f"registry-config:{tenant_id}:{service}:{pointer_text(path)}"

    def with_kept_secrets(
        self, new: dict[str, Any], stored: dict[str, Any] | None, pointers: list[Pointer], tenant_id: str, service: str
    ) -> dict[str, Any]:
        """``new`` with the stored (opened) value of each secret it leaves out, where the object
        holding the secret is still there."""
        merged = _copy(new)
        if stored is None:
            return merged
        for path in pointers:
            parent_present, parent = _get(merged, path[:-1])
            if _get(merged, path)[0] or not (parent_present and isinstance(parent, dict)):
                # Given anew, or its object left out as a whole (removed with it).
                continue
            present, value = _get(stored, path)
            if present:
                _set(merged, path, self._open(value, tenant_id, service, path))
        return merged

    def sealed(self, config: dict[str, Any], pointers: list[Pointer], tenant_id: str, service: str) -> dict[str, Any]:
        """``config`` (already validated) with every secret value sealed, ready to store."""
        stored = _copy(config)
        for path in pointers:
            present, value = _get(stored, path)
            if present:
                plain = json.dumps(value, separators=(",", ":")).encode()
                box = self._sealer.seal(plain, self._context(tenant_id, service, path))
                _set(stored, path, {SEALED: base64.b64encode(box).decode()})
        return stored

    def _open(self, value: Any, tenant_id: str, service: str, path: Pointer) -> Any:
        if not is_sealed(value):
            return value  # stored before the field was marked secret
        box = base64.b64decode(value[SEALED])
        return json.loads(self._sealer.open(box, self._context(tenant_id, service, path)))


def hidden(stored: Any, secrets: Sequence[Pointer] = ()) -> tuple[Any, list[str]]:
    """The stored configuration as callers see it: every sealed value left out, and every value
    at a path the service's current schema marks secret (``secrets``: one stored while the field
    was plain stays plain until the tenant sets it again), with the JSON Pointers of those set."""
    found: list[str] = []
    marked = {tuple(pointer) for pointer in secrets}

    def strip(node: Any, path: Pointer) -> Any:
        if not isinstance(node, dict):
            return node
        kept = {}
        for key, value in node.items():
            if is_sealed(value) or (*path, key) in marked:
                found.append(pointer_text((*path, key)))
            else:
                kept[key] = strip(value, (*path, key))
        return kept

    return strip(stored, ()), sorted(found)
