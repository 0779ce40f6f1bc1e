"""The fault suite's checker finds what it is there to find: an acknowledged enablement or
submission missing, one request id stored twice, an acknowledgement naming another submission,
a stored write never announced (tests/faults/checker.py)."""

from __future__ import annotations

from types import SimpleNamespace

from tenantmesh.forms.v1 import events_pb2

from services.runtime.events import Event
from tests.faults.checker import Announcement, Verdict, _check_enablements, _check_submissions
from tests.faults.observer import EventObserver
from tests.faults.record import OK, Attempt, LoadRecord, Operation


def _acknowledged(kind: str, key: str, request_id: str, acknowledged_id: str) -> Operation:
    return Operation(kind, key, request_id, [Attempt(0.0, 0.1, OK)], [acknowledged_id])


def _unacknowledged(kind: str, key: str, request_id: str) -> Operation:
    return Operation(kind, key, request_id, [Attempt(0.0, 0.1, "UNAVAILABLE/DATABASE_UNAVAILABLE")])


def test_submissions_stored_once_under_the_acknowledged_id_pass() -> None:
    record = LoadRecord([_acknowledged("form.submit", "t1", "r1", "s1"), _unacknowledged("form.submit", "t1", "r2")])
    verdict = Verdict()
    # The unacknowledged one may or may not have been written.
    _check_submissions(record, [SimpleNamespace(request_id="r1", submission_id="s1")], verdict)
    assert (verdict.acknowledged, verdict.problems()) == (1, {})


def test_a_lost_a_doubled_and_a_misnamed_submission_are_found() -> None:
    record = LoadRecord(
        [
            _acknowledged("form.submit", "t1", "lost", "s1"),
            _unacknowledged("form.submit", "t1", "doubled"),
            _acknowledged("form.submit", "t1", "misnamed", "s2"),
        ]
    )
    stored = [
        SimpleNamespace(request_id="doubled", submission_id="s3"),
        SimpleNamespace(request_id="doubled", submission_id="s4"),
        SimpleNamespace(request_id="misnamed", submission_id="s5"),
    ]
    verdict = Verdict()
    _check_submissions(record, stored, verdict)
    assert verdict.lost == ["submission lost acknowledged, not found"]
    assert verdict.duplicated == ["submission doubled: 2 rows", "submission misnamed: acknowledged as ['s2']"]


def test_a_lost_and_a_doubled_enablement_are_found() -> None:
    record = LoadRecord(
        [
            _acknowledged("service.enable", "t1", "r1", "svc"),
            _acknowledged("service.enable", "t2", "r2", "svc"),
            _unacknowledged("service.enable", "t3", "r3"),
        ]
    )
    stored = [
        SimpleNamespace(tenant_id="t1", service="svc", create_request_id="r1"),
        SimpleNamespace(tenant_id="t3", service="svc", create_request_id="r3"),
        SimpleNamespace(tenant_id="t3", service="other", create_request_id="r3"),
    ]
    verdict = Verdict()
    _check_enablements(record, stored, verdict)
    assert verdict.acknowledged == 2
    assert verdict.lost == ["enablement for t2 acknowledged, found None"]
    assert verdict.duplicated == ["enablement for t3: 2 rows"]


def test_a_stored_submission_never_announced_is_missing() -> None:
    observer = EventObserver("redis://unused")
    announced = Event("form.submission.created", "t1", events_pb2.SubmissionCreated(submission_id="s1"))
    observer.events[announced.id] = announced
    expected = Announcement(
        "form.submission.created", lambda e: str(e.payload_dict().get("submission_id")), {"s1": "s1", "s2": "s2"}
    )
    assert expected.missing(observer) == ["form.submission.created s2"]
