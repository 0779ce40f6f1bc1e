"""Crash points for the fault suite: the process kills itself (SIGKILL) at a named point.

Enabled only by ``TENANTMESH_FAULT_KILL_AT=<point>`` in the process's environment, which
the fault suite (tests/faults) sets for the processes it means to crash; unset, a point
costs one comparison with None. ``<point>@<n>`` dies the n-th time the point is reached
(a loop's point, once some of its rounds are done). A crash at each point proves that what
the process was doing is finished or undone by someone else (the reconciler, the next
migrate-all).
"""

from __future__ import annotations

import os
import signal


def _parse(setting: str | None) -> tuple[str | None, int]:
    if not setting:
        return None, 1
    name, _, nth = setting.partition("@")
    return name, int(nth) if nth else 1


_KILL_AT, _KILL_ON_PASS = _parse(os.environ.get("TENANTMESH_FAULT_KILL_AT"))
# Passes of the configured point so far (a list: counted in place, no global rebinding).
_passes: list[None] = []


def crash_point(name: str) -> None:
    """Dies here, as abruptly as a machine losing power, if this is the configured point
    (and, with ``@n``, this is its n-th pass)."""
    if _KILL_AT is not None and name == _KILL_AT:
        _passes.append(None)
        if len(_passes) >= _KILL_ON_PASS:
            os.kill(os.getpid(), signal.SIGKILL)
