"""What the load generator sent and what came back: the record the checker compares with the data.

Every attempt of every operation is kept (its request id, start and end on the monotonic
clock, and its outcome: OK or the gRPC code with the ErrorInfo reason), so the checker can
tell acknowledged writes (some attempt answered OK) from ambiguous ones (every attempt
failed: the write may or may not have happened, and either is allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from tests.support.errors import STATUS_DETAILS_KEY, reason_of, trailer

OK = "OK"


@dataclass
class Attempt:
    started: float
    ended: float
    outcome: str  # "OK", or "<CODE>/<REASON>" ("<CODE>/" when the error carried no ErrorInfo)
    # A refusal that says an earlier attempt of the operation did write (ALREADY_EXISTS on a retry).
    acknowledges: bool = False

    @property
    def code(self) -> str:
        return self.outcome.split("/", 1)[0]


@dataclass
class Operation:
    kind: str  # "tenant.create", "user.create", "login", "service.enable", "form.submit"
    # What it writes: a tenant slug, a user's email, the login's user, the tenant enabling or
    # submitted to.
    key: str
    request_id: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    # What the acknowledgement named (a tenant id, a user id), per acknowledged attempt.
    acknowledged_ids: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.acknowledged_ids)


def outcome_of(error: grpc.aio.AioRpcError) -> str:
    code = error.code().name
    if trailer(error, STATUS_DETAILS_KEY) is None:
        return f"{code}/"
    try:
        return f"{code}/{reason_of(error)}"
    except AssertionError:  # a status without ErrorInfo
        return f"{code}/"


# The writes the load makes (load.py) and the checker compares with the databases and streams.
WRITE_KINDS = frozenset({"tenant.create", "user.create", "service.enable", "form.submit"})


@dataclass
class LoadRecord:
    operations: list[Operation] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Operation]:
        return [op for op in self.operations if op.kind == kind]

    def acknowledged_kinds(self) -> set[str]:
        """The kinds of operation with an acknowledged one: what the checker's verdict covers."""
        return {op.kind for op in self.operations if op.acknowledged}

    def acknowledged_writes(self) -> set[str]:
        """The kinds of write with an acknowledged one. A verdict with none checked nothing: a
        platform refusing every write would pass it."""
        return self.acknowledged_kinds() & WRITE_KINDS

    def attempts(self) -> list[tuple[Operation, Attempt]]:
        return [(op, attempt) for op in self.operations for attempt in op.attempts]

    def failed_attempts(self) -> list[tuple[Operation, Attempt]]:
        return [(op, a) for op, a in self.attempts() if a.outcome != OK and not a.acknowledges]

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, attempt in self.attempts():
            if attempt.acknowledges:
                continue
            counts[attempt.outcome] = counts.get(attempt.outcome, 0) + 1
        return counts
