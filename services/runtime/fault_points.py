"""Crash points for the fault suite: the process kills itself (SIGKILL) at a named point.

Enabled only by ``TENANTMESH_FAULT_KILL_AT=<point>`` in the process's environment, which
the fault suite (tests/faults) sets for the processes it means to crash; unset, a point
costs one comparison with None. A crash at each point proves that what the process was
doing is finished or undone by someone else (the reconciler, the next migrate-all).
"""

from __future__ import annotations

import os
import signal

_KILL_AT = os.environ.get("TENANTMESH_FAULT_KILL_AT") or None


def crash_point(name: str) -> None:
    """Dies here, as abruptly as a machine losing power, if this is the configured point."""
    if _KILL_AT is not None and name == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
