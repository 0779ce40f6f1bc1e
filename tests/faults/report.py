"""The table the suite prints at the end (docs/resilience.md carries a run of it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from tests.faults.checker import Verdict
from tests.faults.record import OK, LoadRecord


class RecordedLoad(Protocol):
    """What a report reads of a load: its record, when it ran and the rate it aimed for."""

    record: LoadRecord
    started_at: float
    stopped_at: float

    @property
    def targeted_rate(self) -> float: ...


@dataclass(frozen=True)
class ScenarioReport:
    scenario: str
    fault: str
    load: str  # what was held: operations per second started, and for how long
    acknowledged: int
    lost: int
    duplicated: int
    recovery_seconds: float
    errors: str  # the failed attempts' outcomes during the fault


REPORTS: list[ScenarioReport] = []


def recovery_seconds(load: RecordedLoad, fault_start: float, fault_end: float) -> float:
    """From the fault's end until the last attempt that failed because of it had been answered.

    0 when nothing failed after the fault ended (the platform had recovered by then)."""
    failures = [a.ended for _, a in load.record.failed_attempts() if a.started >= fault_start]
    return max(0.0, max(failures, default=fault_end) - fault_end)


def describe_load(load: RecordedLoad) -> str:
    seconds = load.stopped_at - load.started_at
    operations = len(load.record.operations)
    return f"{operations / seconds:.1f} ops/s for {seconds:.0f} s ({load.targeted_rate:.0f} targeted)"


def describe_errors(load: RecordedLoad) -> str:
    counts = {outcome: n for outcome, n in load.record.outcomes().items() if outcome != OK}
    return ", ".join(f"{outcome.rstrip('/')} x{n}" for outcome, n in sorted(counts.items())) or "none"


def add(
    scenario: str, fault: str, load: RecordedLoad, verdict: Verdict, fault_start: float, fault_end: float
) -> ScenarioReport:
    report = ScenarioReport(
        scenario=scenario,
        fault=fault,
        load=describe_load(load),
        acknowledged=verdict.acknowledged,
        lost=len(verdict.lost),
        duplicated=len(verdict.duplicated) + len(verdict.delivered_twice),
        recovery_seconds=recovery_seconds(load, fault_start, fault_end),
        errors=describe_errors(load),
    )
    REPORTS.append(report)
    return report


def replace_recovery(report: ScenarioReport, recovery: float) -> ScenarioReport:
    """The row with a recovery time the scenario measured itself (from the crash to the answer)."""
    updated = dataclasses.replace(report, recovery_seconds=recovery)
    REPORTS[REPORTS.index(report)] = updated
    return updated


def table(reports: list[ScenarioReport]) -> str:
    header = (
        "| Scenario | Load held | Fault | Acknowledged operations checked | Lost | Duplicated | Recovery time |"
        " Errors during the fault |"
    )
    lines = [header, "|" + "---|" * 8]
    for r in reports:
        lines.append(
            f"| {r.scenario} | {r.load} | {r.fault} | {r.acknowledged} | {r.lost} | {r.duplicated} |"
            f" {r.recovery_seconds:.1f} s | {r.errors} |"
        )
    return "\n".join(lines)


def failure_timeline(load: RecordedLoad, fault_start: float) -> str:
    """Failed attempts by operation and outcome, with when they started relative to the fault."""
    groups: dict[tuple[str, str], list[float]] = {}
    for op, attempt in load.record.failed_attempts():
        groups.setdefault((op.kind, attempt.outcome), []).append(attempt.started - fault_start)
    return "\n".join(
        f"{kind} {outcome}: x{len(times)} from {min(times):+.1f} s to {max(times):+.1f} s"
        for (kind, outcome), times in sorted(groups.items())
    )
