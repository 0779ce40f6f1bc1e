"""The string formats answers may declare, checked the same way on both sides.

The validators' own format checkers disagree at the edges (jsonschema-rs accepts ``a@b`` as an email,
ajv-formats does not; they differ on leap seconds and URI characters), so both register this table
instead, written once per language from the same expressions (``packages/form-engine/src/formats.ts``).
Everything is ASCII: ``[0-9]`` rather than ``\\d``, which Python's ``re`` would stretch to other digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([zZ]|([+-])([0-9]{2}):([0-9]{2}))")
_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[tT](.+)")
_EMAIL_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_EMAIL = re.compile(_EMAIL_LOCAL + r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_URI_CHAR = r"([A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:" + _URI_CHAR + "*")
_URI_REFERENCE = re.compile(_URI_CHAR + "*")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(_OCTET + r"(\." + _OCTET + "){3}")
_DURATION = re.compile(
    r"P(?=[0-9T])([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?"
)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_date(text: str) -> bool:
    match = _DATE.fullmatch(text)
    if not match:
        return False
    year, month, day = (int(part) for part in match.groups())
    days = [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


def is_time(text: str) -> bool:
    """RFC 3339 full-time; a leap second (:60) only where it is 23:59 in UTC."""
    match = _TIME.fullmatch(text)
    if not match:
        return False
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    offset_hour = int(match[7]) if match[7] else 0
    offset_minute = int(match[8]) if match[8] else 0
    if hour > 23 or minute > 59 or second > 60 or offset_hour > 23 or offset_minute > 59:
        return False
    if second == 60:
        sign = -1 if match[6] == "-" else 1
        utc = (hour * 60 + minute - sign * (offset_hour * 60 + offset_minute)) % 1440
        return utc == 23 * 60 + 59
    return True


def is_date_time(text: str) -> bool:
    match = _DATE_TIME.fullmatch(text)
    return bool(match) and is_date(match[1]) and is_time(match[2])  # type: ignore[index]


def is_email(text: str) -> bool:
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        return False
    return len(text.split("@", 1)[0]) <= 64


def is_hostname(text: str) -> bool:
    return 0 < len(text) <= 253 and all(_LABEL.fullmatch(label) for label in text.split("."))


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.fullmatch(text) is not None


FORMATS: Final[dict[str, Callable[[str], bool]]] = {
    "date": is_date,
    "time": is_time,
    "date-time": is_date_time,
    "duration": _matches(_DURATION),
    "email": is_email,
    "hostname": is_hostname,
    "ipv4": _matches(_IPV4),
    "uri": _matches(_URI),
    "uri-reference": _matches(_URI_REFERENCE),
    "uuid": _matches(_UUID),
}
