"""Answers against a published version: the compiled versions, the engine's verdict as errors, and
the top-level values a submission's filters are answered from."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.forms.engine import CompiledForm, Evaluation, Violation, compile_definition
from services.forms.engine.layout import VALUE_TYPES
from services.forms.forms import ARCHIVED
from services.forms.heads import FormHead
from services.forms.models import INDEXED_TEXT_LENGTH, FormVersionRow
from services.forms.reasons import AnswerReason, FormsReason
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.json_documents import json_path, pointer_parts

_KEYWORD_REASONS: Final = {
    "required": AnswerReason.ANSWER_REQUIRED,
    "unknownField": AnswerReason.ANSWER_UNKNOWN_FIELD,
    "computed": AnswerReason.ANSWER_COMPUTED_MISMATCH,
    "check": AnswerReason.ANSWER_CHECK_FAILED,
    "numberRange": AnswerReason.ANSWER_NUMBER_RANGE,
}
# Scalar answers at the top level can be filtered on; groups, lists and files cannot.
FILTERABLE_TYPES: Final = VALUE_TYPES - {"GROUP", "REPEATING_GROUP", "MULTIPLE_CHOICE", "FILE"}
_CACHE_SIZE: Final = 512
_DEFINITION: Final = select(FormVersionRow.definition_json)
# What reads a form for answering run on: a session, or a unit of work's Core connection.
Executor = AsyncSession | AsyncConnection


@dataclass(frozen=True)
class PublishedVersion:
    version: int
    compiled: CompiledForm
    filterable: frozenset[str]  # top-level scalar fields of this version


class VersionCache:
    """Compiled published versions, by (tenant, form id, version): versions never change, so an
    entry is never stale; bounded LRU."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str, int], PublishedVersion] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, tenant_id: str, form_id: str, version: int) -> PublishedVersion | None:
        """The entry if it is cached (no database needed)."""
        with self._lock:
            return self._entries.get((tenant_id, form_id, version))

    async def get(self, session: Executor, tenant_id: str, form_id: str, version: int) -> PublishedVersion:
        key = (tenant_id, form_id, version)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        definition = (
            await session.execute(
                _DEFINITION.where(FormVersionRow.form_id == form_id, FormVersionRow.version == version)
            )
        ).scalar_one_or_none()
        if definition is None:
            raise NotFound("the form has no such version", reason=FormsReason.FORM_VERSION_NOT_FOUND)
        compiled = compile_definition(json.loads(definition))
        filterable = frozenset(
            e.key for e in compiled.layout.elements if e.level is None and e.type in FILTERABLE_TYPES
        )
        entry = PublishedVersion(version, compiled, filterable)
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return entry


def answerable_version(form: FormHead, version: int) -> int:
    """The version answers to ``form`` are made against (0: the latest); refused for a form that
    takes none."""
    if form.status == ARCHIVED:
        raise FailedPrecondition("the form is archived: it takes no submissions", reason=FormsReason.FORM_ARCHIVED)
    if form.latest_version == 0:
        raise FailedPrecondition("the form has no published version", reason=FormsReason.FORM_NOT_PUBLISHED)
    if version > form.latest_version:
        raise NotFound("the form has no such version", reason=FormsReason.FORM_VERSION_NOT_FOUND)
    return version or form.latest_version


def answer_violation(violation: Violation) -> FieldViolation:
    reason = _KEYWORD_REASONS.get(violation.keyword, AnswerReason.ANSWER_INVALID)
    where = json_path("answers", pointer_parts(violation.pointer))
    detail = violation.message if violation.keyword in _KEYWORD_REASONS else f"{violation.keyword}: {violation.message}"
    return FieldViolation(where, detail, reason)


def answers_invalid(violations: list[FieldViolation]) -> InvalidArgument:
    return InvalidArgument(
        f"the answers have {len(violations)} problem(s)", reason=FormsReason.ANSWERS_INVALID, violations=violations
    )


def refuse_invalid(evaluation: Evaluation) -> None:
    if evaluation.violations:
        raise answers_invalid([answer_violation(v) for v in evaluation.violations])


def indexed_values(form_id: str, submission_id: str, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The filterable values of stored answers, as submission_values rows: each top-level string,
    number and boolean."""
    rows = []
    for field, value in answers.items():
        text: str | None = None
        number: float | None = None
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            text = value[:INDEXED_TEXT_LENGTH]
        else:
            continue
        rows.append(
            {
                "submission_id": submission_id,
                "field": field,
                "form_id": form_id,
                "value_text": text,
                "value_number": number,
            }
        )
    return rows


async def filterable_fields(session: AsyncSession, cache: VersionCache, tenant_id: str, form: FormHead) -> set[str]:
    """Top-level scalar fields of any version of ``form`` (numbered 1 to its latest, immutable:
    after the first call, from the cache alone)."""
    fields: set[str] = set()
    for version in range(1, form.latest_version + 1):
        fields |= (await cache.get(session, tenant_id, form.form_id, version)).filterable
    return fields
