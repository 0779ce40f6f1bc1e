"""Form definitions as the service stores and checks them.

A definition arrives as a ``FormDefinition`` message and is stored as the canonical JSON the engine
reads (lowerCamelCase, as REST returns it). Every save checks it; each problem becomes a field
violation at the request field followed by the JSON path inside the definition
(``form.draft.fields[0].visibleWhen.var``), with the engine's reason.
"""

from __future__ import annotations

import json
from typing import Any, Final

from tenantmesh.forms.v1 import form_pb2

from services.forms.engine import Problem, check_definition
from services.forms.engine.proto import definition_json, definition_message
from services.forms.reasons import DefinitionReason, FormsReason
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.json_documents import json_path, pointer_parts

EMPTY_DEFINITION: Final[dict[str, Any]] = {"schema": {"type": "object", "properties": {}}}
# Texts a tenant may change in a form a service owns: what it shows, never what it accepts.
TEXT_KEYS: Final = frozenset({"label", "helpText", "placeholder"})


def dumps(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def document_of(message: form_pb2.FormDefinition) -> dict[str, Any]:
    """The canonical JSON of a definition; an empty message is the empty form."""
    if not message.ByteSize():
        return dict(EMPTY_DEFINITION)
    return definition_json(message)


def message_of(stored: str) -> form_pb2.FormDefinition:
    return definition_message(json.loads(stored))


def problem_violation(field: str, problem: Problem) -> FieldViolation:
    return FieldViolation(
        json_path(field, pointer_parts(problem.pointer)), problem.message, DefinitionReason[problem.reason.value]
    )


def checked(document: dict[str, Any], field: str) -> dict[str, Any]:
    """``document`` if it can be saved; else INVALID_ARGUMENT (DEFINITION_INVALID) with every problem."""
    problems = check_definition(document)
    if problems:
        raise InvalidArgument(
            f"the form definition has {len(problems)} problem(s)",
            reason=FormsReason.DEFINITION_INVALID,
            violations=[problem_violation(field, problem) for problem in problems],
        )
    return document


_OPTION_TEXTS = frozenset({"label"})


def without_texts(definition: Any) -> Any:
    """The definition with the fields' labels, help texts and placeholders (and their options'
    labels) removed: what a tenant may override in a service's form. Two definitions equal under
    this accept the same answers.

    Only the layout's field objects lose them: inside ``schema`` the same names are property names
    (a property called "label"), and its schema is what the service decides."""
    return _without(definition, frozenset())


def _without(node: Any, texts: frozenset[str]) -> Any:
    """``node`` without the keys ``texts``, its layout fields (at any depth) without TEXT_KEYS and
    their options without their labels."""
    if not isinstance(node, dict):
        return node
    stripped = {key: item for key, item in node.items() if key not in texts}
    if isinstance(node.get("fields"), list):
        stripped["fields"] = [_without(child, TEXT_KEYS) for child in node["fields"]]
    if texts and isinstance(node.get("options"), list):
        stripped["options"] = [_without(option, _OPTION_TEXTS) for option in node["options"]]
    return stripped
