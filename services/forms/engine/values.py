"""JSON values as a browser holds them: numbers are IEEE doubles, strings are compared by UTF-16 code units.

The browser module reads the same documents with ``JSON.parse``, where every number is a double and an
integer beyond 2^53 is already rounded. The server normalises its input the same way first (``js_value``),
so every rule, comparison and stored value sees what the browser sees. These helpers are the Python half
of ``packages/form-engine/src/values.ts``; the two are kept identical by the conformance corpus.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

# Largest integer a double holds exactly (Number.MAX_SAFE_INTEGER); answers beyond it are refused.
MAX_SAFE_INTEGER = 2**53 - 1

JSON = Any  # a parsed JSON value: None, bool, int, float, str, list, dict


def is_number(value: object) -> bool:
    """A JSON number (bool is an int subclass in Python but never a number in JSON)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def js_number(value: int | float) -> int | float:
    """The double a browser would hold, as an int when it is whole (so it prints and compares like JSON)."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if math.isfinite(number) and number.is_integer():
        return int(number)
    return number


def js_value(value: JSON) -> JSON:
    """``value`` with every number replaced by ``js_number`` of it (a deep copy of lists and objects)."""
    if isinstance(value, dict):
        return {key: js_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [js_value(item) for item in value]
    if is_number(value):
        return js_number(value)
    return value


def js_string(number: int | float) -> str:
    """ECMAScript Number::toString(10): how a browser prints a number (cat, substr)."""
    value = float(js_number(number))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + js_string(-value)
    # repr() gives the shortest digits that round-trip, as ECMAScript requires; only the layout differs.
    _sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    k = len(digits)
    n = int(exponent) + k  # the decimal point sits after n digits
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(e)}"


def utf16_key(text: str) -> bytes:
    """Sort key ordering strings as JavaScript's ``<`` does (by UTF-16 code units, not code points)."""
    return text.encode("utf-16-be", "surrogatepass")


def deep_equal(a: JSON, b: JSON) -> bool:
    """Equality of JSON values: numbers by value, arrays element-wise, objects key by key; no conversions."""
    if is_number(a) and is_number(b):
        return float(js_number(a)) == float(js_number(b))
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, bool) and isinstance(b, bool):
        return a is b
    if a is None and b is None:
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equal(a[key], b[key]) for key in a)
    return False


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 JSON Pointer of ``parts`` ("" is the whole document)."""
    return "".join("/" + escape_pointer_token(part) for part in parts)


def canonical_json(value: JSON) -> str:
    """One text per JSON value (sorted keys, no spaces, numbers as a browser holds them): the cache key."""
    return json.dumps(js_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def get_in(document: JSON, parts: Iterable[str | int]) -> tuple[bool, JSON]:
    """(found, value) at ``parts`` inside ``document``."""
    current = document
    for part in parts:
        in_list = isinstance(part, int) and isinstance(current, list) and 0 <= part < len(current)
        in_object = isinstance(part, str) and isinstance(current, Mapping) and part in current
        if not (in_list or in_object):
            return False, None
        current = current[part]
    return True, current
