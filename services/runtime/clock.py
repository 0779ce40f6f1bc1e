"""Time as stored: naive UTC datetimes, the same on MySQL DATETIME and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def after(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)
