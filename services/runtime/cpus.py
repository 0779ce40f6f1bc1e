"""How many CPUs this process may actually use.

``os.cpu_count()`` is the machine's count. A container limited to one CPU on a
32-core node sees 32 there, and a pool sized from it would run 32 CPU-bound
threads in a one-CPU budget (for argon2, each also holding its memory). The
usable count is the CPUs the process may be scheduled on, capped by a cgroup
CPU quota where one is set (Kubernetes' CPU limit, ``docker run --cpus``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """The CPUs this process may be scheduled on, capped by its cgroup's CPU quota; at least 1."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        available = min(available, math.ceil(quota))
    return max(1, available)


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """CPUs' worth of time the cgroup may use per period (cgroup v2, then v1); None when unlimited or unknown."""
    try:
        v2 = (cgroup_root / "cpu.max").read_text().split()
    except (OSError, UnicodeDecodeError):
        v2 = []
    if len(v2) == 2:
        return _ratio(v2[0], v2[1], unlimited="max")
    try:
        quota = (cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
        period = (cgroup_root / "cpu" / "cpu.cfs_period_us").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return _ratio(quota, period, unlimited="-1")


def _ratio(quota: str, period: str, *, unlimited: str) -> float | None:
    if quota == unlimited:
        return None
    try:
        value, per = int(quota), int(period)
    except ValueError:
        return None
    return value / per if value > 0 and per > 0 else None
