"""A checked definition made ready to evaluate, cached by the hash of its content.

Compiling checks the definition, orders its rules and builds the answers' validator; the service
evaluates the same few published versions over and over, so compiled forms are kept (bounded LRU)
under the SHA-256 of the definition's canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import jsonschema_rs

from services.forms.engine.check import Checked, analyze_definition, check_target
from services.forms.engine.layout import LEVEL_TYPES, Element, Layout
from services.forms.engine.logic import Program, compile_rule
from services.forms.engine.model import DefinitionError
from services.forms.engine.rules import Node
from services.forms.engine.schema import compile_validator, relaxed
from services.forms.engine.values import JSON, canonical_json

CACHE_SIZE: Final = 256


@dataclass(frozen=True)
class CompiledCheck:
    id: str
    rule: JSON
    message: JSON
    target: Element | None
    program: Program  # the rule compiled


@dataclass(frozen=True)
class CompiledForm:
    content_hash: str  # of the canonical JSON: what a published version records
    layout: Layout
    order: list[Node]
    validator: jsonschema_rs.Validator
    checks: list[CompiledCheck]
    default_locale: str
    value_elements: list[Element]
    # The value elements that can be required (by the schema or a requiredWhen), in order: the
    # rest need no look at any answer for it.
    requirable: list[Element]


def content_hash(definition: JSON) -> str:
    """SHA-256 (hex) of the definition's canonical JSON: equal definitions, equal hashes."""
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()


def _build(checked: Checked, digest: str) -> CompiledForm:
    layout = checked.layout
    levels: list[tuple[list[str | int], set[str]]] = []
    for level in [None, *(e for e in layout.elements if e.type in LEVEL_TYPES)]:
        parts = [] if level is None else level.level_parts
        if parts is not None:
            levels.append((parts, {child.key for child in layout.answer_children(level)}))
    validator = compile_validator(relaxed(checked.schema, levels))
    checks = []
    for check in checked.definition.get("checks", []):
        target = check_target(check, layout)
        rule = check["rule"]
        checks.append(CompiledCheck(check["id"], rule, check.get("message"), target or None, compile_rule(rule)))  # type: ignore[arg-type]
    values = [element for element in layout.elements if element.is_value]
    requirable = [
        element for element in values if element.required_by_schema or element.rule("requiredWhen") is not None
    ]
    return CompiledForm(digest, layout, checked.order, validator, checks, checked.default_locale, values, requirable)


_cache: OrderedDict[str, CompiledForm] = OrderedDict()
_lock = threading.Lock()


def _cache_key(definition: dict[str, Any]) -> str:
    """The cache key: SHA-256 of the definition's JSON with sorted keys. Cheaper than the canonical
    ``content_hash`` (numbers are not normalised first), so the same content written as 5 and 5.0
    may be compiled twice, to the same result."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def compile_definition(definition: dict[str, Any]) -> CompiledForm:
    """The compiled form of ``definition``; raises DefinitionError listing its problems."""
    digest = _cache_key(definition)
    with _lock:
        compiled = _cache.get(digest)
        if compiled is not None:
            _cache.move_to_end(digest)
            return compiled
    checked = analyze_definition(definition)
    if checked.problems:
        raise DefinitionError(checked.problems)
    compiled = _build(checked, content_hash(definition))
    with _lock:
        _cache[digest] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled
