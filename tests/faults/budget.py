"""How long the scenarios run: in full under ``make test-faults``, shorter inside ``make test``.

``make test`` runs every scenario too, with shorter load and outage phases, so the whole
suite stays within its time budget; ``make test-faults`` (FAULT_SUITE=full) runs them at
the lengths the resilience report states (docs/resilience.md).
"""

from __future__ import annotations

import os

FULL = os.environ.get("FAULT_SUITE") == "full"


def seconds(full: float, short: float) -> float:
    return full if FULL else short
