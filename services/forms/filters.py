"""The answer filter of ListSubmissions: ``answers.<field> <op> <value>`` clauses joined by AND.

Values are double-quoted strings (JSON escapes), numbers, ``true`` or ``false``. A clause compares
against the indexed value of a top-level scalar answer (``submission_values``): strings and
booleans by text, numbers by number.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Final

from services.forms.reasons import FormsReason
from services.runtime.errors import FieldViolation, InvalidArgument

OPERATORS: Final = ("=", "!=", "<", "<=", ">", ">=")
_CLAUSE = re.compile(
    r"""\s*answers\.(?P<field>[A-Za-z_][A-Za-z0-9_-]{0,63})\s*(?P<op><=|>=|!=|=|<|>)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false)\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+")


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str | float | bool


def filter_invalid(description: str, reason: FormsReason = FormsReason.FILTER_INVALID) -> InvalidArgument:
    return InvalidArgument(
        f"filter: {description}", reason=reason, violations=[FieldViolation("filter", description, reason)]
    )


def parse_filter(text: str) -> list[Clause]:
    if not text.strip():
        return []
    clauses: list[Clause] = []
    for part in _AND.split(text.strip()):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise filter_invalid(f"not a condition: {part.strip()!r} (answers.<field> <op> <value>, joined by AND)")
        value = _value(match["value"])
        if isinstance(value, bool) and match["op"] not in ("=", "!="):
            raise filter_invalid(f"{match['op']} compares numbers or strings, not booleans")
        clauses.append(Clause(match["field"], match["op"], value))
    return clauses


def _value(raw: str) -> str | float | bool:
    if raw.startswith('"'):
        return _string(raw)
    if raw in ("true", "false"):
        return raw == "true"
    number = float(raw)
    if not math.isfinite(number):
        # 1e999 reads as infinity: no stored answer is one (JSON has none), and the database
        # driver cannot bind it.
        raise filter_invalid(f"not a finite number: {raw}")
    return number


def _string(raw: str) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        raise filter_invalid(f"not a JSON string: {raw}") from None
    assert isinstance(value, str)  # the pattern matched a JSON string literal
    try:
        # JSON escapes can spell a lone surrogate ("\\ud800"), which is no text: it cannot be
        # encoded to be compared with the stored values.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise filter_invalid(f"not valid Unicode text: {raw}") from None
    return value
