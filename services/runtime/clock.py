"""Time as stored: naive UTC datetimes, the same on MySQL DATETIME and SQLite; and epoch seconds.

``TENANTMESH_FAULT_CLOCK_OFFSET_SECONDS`` (test-only, the fault suite's clock skew scenario)
sets this process's clock off by that many seconds, as a host whose clock drifted would be.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

_OFFSET_SECONDS = float(os.environ.get("TENANTMESH_FAULT_CLOCK_OFFSET_SECONDS") or 0)
_OFFSET = timedelta(seconds=_OFFSET_SECONDS)


def utcnow() -> datetime:
    return (datetime.now(UTC) + _OFFSET).replace(tzinfo=None, microsecond=0)


def after(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def epoch() -> float:
    """Seconds since the epoch, as token claims count time."""
    return time.time() + _OFFSET_SECONDS
