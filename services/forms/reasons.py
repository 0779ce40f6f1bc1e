"""Reasons the forms service gives (ErrorInfo and field violations)."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class FormsReason(Reason):
    FORM_NOT_FOUND = auto()
    FORM_KEY_TAKEN = auto()
    FORM_KEY_RESERVED = auto()  # keys with a "." belong to forms installed by services
    DEFINITION_INVALID = auto()
    FORM_OWNED_BY_SERVICE = auto()
    FORM_ARCHIVED = auto()
    FORM_NOT_ARCHIVED = auto()
    FORM_NOT_PUBLISHED = auto()
    DRAFT_UNCHANGED = auto()
    FORM_HAS_SUBMISSIONS = auto()
    FORM_VERSION_NOT_FOUND = auto()
    ANSWERS_INVALID = auto()
    SUBMISSION_NOT_FOUND = auto()
    SUBMISSION_NOT_EDITABLE = auto()
    FILTER_INVALID = auto()
    FILTER_FIELD_UNKNOWN = auto()
    REQUEST_ID_REUSED = auto()  # a request_id another caller's request used


class AnswerReason(Reason):
    """The reason of one field violation of ANSWERS_INVALID, from the engine's violation keyword."""

    ANSWER_REQUIRED = auto()  # keyword "required"
    ANSWER_UNKNOWN_FIELD = auto()  # "unknownField": no field has that key
    ANSWER_COMPUTED_MISMATCH = auto()  # "computed": a submitted computed value differs from the server's
    ANSWER_CHECK_FAILED = auto()  # "check": a cross-field check of the form
    ANSWER_NUMBER_RANGE = auto()  # "numberRange": beyond what a browser holds exactly
    ANSWER_INVALID = auto()  # any JSON Schema keyword (type, maxLength, pattern, enum, ...)


class DefinitionReason(Reason):
    """The reason of one field violation of DEFINITION_INVALID: the engine's problem reasons
    (services.forms.engine.Reason), named alike (a unit test keeps the two in step)."""

    DEFINITION_INVALID = auto()
    SCHEMA_INVALID = auto()
    SCHEMA_NOT_OBJECT = auto()
    SCHEMA_KEYWORD_UNSUPPORTED = auto()
    SCHEMA_FORMAT_UNSUPPORTED = auto()
    SCHEMA_PATTERN_INVALID = auto()
    SCHEMA_REFERENCE_INVALID = auto()
    LAYOUT_KEY_INVALID = auto()
    LAYOUT_DUPLICATE_KEY = auto()
    LAYOUT_TYPE_INVALID = auto()
    LAYOUT_WIDGET_INVALID = auto()
    LAYOUT_CHILDREN_INVALID = auto()
    LAYOUT_FIELD_NOT_IN_SCHEMA = auto()
    LAYOUT_PROPERTY_WITHOUT_FIELD = auto()
    LAYOUT_SCHEMA_MISMATCH = auto()
    LAYOUT_GROUP_NOT_OBJECT = auto()
    LAYOUT_REPEATING_GROUP_NOT_ARRAY_OF_OBJECTS = auto()
    LAYOUT_ITEMS_MISMATCH = auto()
    LAYOUT_OPTIONS_MISMATCH = auto()
    LAYOUT_COMPUTE_INVALID = auto()
    TEXT_LOCALE_MISSING = auto()
    RULE_INVALID = auto()
    RULE_UNKNOWN_OPERATOR = auto()
    RULE_BANNED_OPERATOR = auto()
    RULE_INVALID_ARGUMENTS = auto()
    RULE_UNKNOWN_FIELD = auto()
    RULE_CYCLE = auto()
    CHECK_INVALID = auto()
