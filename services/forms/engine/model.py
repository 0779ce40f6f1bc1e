"""What the engine returns: definition problems, answer violations and the evaluation of a submission."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.forms.engine.values import JSON


class Reason(StrEnum):
    """Why a definition is refused; stable, compared by tests and returned to callers."""

    DEFINITION_INVALID = "DEFINITION_INVALID"  # not the shape of a FormDefinition
    SCHEMA_INVALID = "SCHEMA_INVALID"  # not a valid JSON Schema 2020-12 document
    SCHEMA_NOT_OBJECT = "SCHEMA_NOT_OBJECT"  # the answers' schema is not an object schema with properties
    SCHEMA_KEYWORD_UNSUPPORTED = "SCHEMA_KEYWORD_UNSUPPORTED"  # outside the pinned keyword set
    SCHEMA_FORMAT_UNSUPPORTED = "SCHEMA_FORMAT_UNSUPPORTED"  # outside the pinned format set
    SCHEMA_PATTERN_INVALID = "SCHEMA_PATTERN_INVALID"  # not a regular expression both sides accept
    SCHEMA_REFERENCE_INVALID = "SCHEMA_REFERENCE_INVALID"  # $ref leaving the document or not resolving
    LAYOUT_KEY_INVALID = "LAYOUT_KEY_INVALID"
    LAYOUT_DUPLICATE_KEY = "LAYOUT_DUPLICATE_KEY"
    LAYOUT_TYPE_INVALID = "LAYOUT_TYPE_INVALID"  # unknown field type, or a page below the top level
    LAYOUT_WIDGET_INVALID = "LAYOUT_WIDGET_INVALID"  # widget the type does not take
    LAYOUT_CHILDREN_INVALID = "LAYOUT_CHILDREN_INVALID"  # children on a field that holds none
    LAYOUT_FIELD_NOT_IN_SCHEMA = "LAYOUT_FIELD_NOT_IN_SCHEMA"
    LAYOUT_PROPERTY_WITHOUT_FIELD = "LAYOUT_PROPERTY_WITHOUT_FIELD"
    LAYOUT_SCHEMA_MISMATCH = "LAYOUT_SCHEMA_MISMATCH"  # the property's schema is not the field type's
    LAYOUT_GROUP_NOT_OBJECT = "LAYOUT_GROUP_NOT_OBJECT"
    LAYOUT_REPEATING_GROUP_NOT_ARRAY_OF_OBJECTS = "LAYOUT_REPEATING_GROUP_NOT_ARRAY_OF_OBJECTS"
    LAYOUT_ITEMS_MISMATCH = "LAYOUT_ITEMS_MISMATCH"  # minItems/maxItems differ from the schema's
    LAYOUT_OPTIONS_MISMATCH = "LAYOUT_OPTIONS_MISMATCH"  # options are not the schema's enum
    LAYOUT_COMPUTE_INVALID = "LAYOUT_COMPUTE_INVALID"  # COMPUTED without compute, or compute elsewhere
    TEXT_LOCALE_MISSING = "TEXT_LOCALE_MISSING"  # a localized text without the default locale
    RULE_INVALID = "RULE_INVALID"  # not an expression (object literal, too deep)
    RULE_UNKNOWN_OPERATOR = "RULE_UNKNOWN_OPERATOR"
    RULE_BANNED_OPERATOR = "RULE_BANNED_OPERATOR"
    RULE_INVALID_ARGUMENTS = "RULE_INVALID_ARGUMENTS"  # arity, non-literal var path, zero-argument and/or
    RULE_UNKNOWN_FIELD = "RULE_UNKNOWN_FIELD"  # a var naming no field (or out of the rule's reach)
    RULE_CYCLE = "RULE_CYCLE"  # computed values or visibility depending on themselves
    CHECK_INVALID = "CHECK_INVALID"  # duplicate id, or a field that does not exist


@dataclass(frozen=True, order=True)
class Problem:
    """A reason a definition cannot be used, at a JSON Pointer into the definition."""

    pointer: str
    reason: Reason
    message: str = field(compare=False)

    def as_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "reason": self.reason.value, "message": self.message}


@dataclass(frozen=True, order=True)
class Violation:
    """A way the answers fail the form, at a JSON Pointer into the answers.

    ``keyword`` is the JSON Schema keyword that failed, or one of the engine's own: ``required``,
    ``unknownField`` (no such field), ``computed`` (a submitted computed value that differs),
    ``numberRange`` (beyond ±(2^53-1)) and ``check`` (with ``rule`` naming the check).
    """

    pointer: str
    keyword: str
    rule: str = ""
    message: str = field(default="", compare=False)

    def as_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "keyword": self.keyword, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Evaluation:
    """The answers evaluated against a definition.

    ``visible``: every element instance (by JSON Pointer) and whether it is shown; ``required``: the
    visible answers that must be given; ``computed``: the recomputed values (null when not computable);
    ``answers``: what would be stored (hidden and unknown answers dropped, computed values filled in).
    """

    visible: dict[str, bool]
    required: list[str]
    computed: dict[str, JSON]
    violations: list[Violation]
    answers: dict[str, Any]

    @property
    def valid(self) -> bool:
        return not self.violations

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "visible": self.visible,
            "required": self.required,
            "computed": self.computed,
            "violations": [violation.as_json() for violation in self.violations],
            "answers": self.answers,
        }


class DefinitionError(ValueError):
    """The definition has problems; evaluate() refuses it rather than guess."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"the form definition has {len(problems)} problem(s)")
        self.problems = problems
