"""The in-memory usage tally: counts per tenant and hour, handed over as the stored hour datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.runtime.clock import utcnow
from services.runtime.telemetry.usage import UsageTally, hour_of


def test_calls_are_counted_under_the_hour_they_were_made_in() -> None:
    tally = UsageTally()
    before = hour_of(utcnow())
    tally.add("t1", failed=False)
    tally.add("t1", failed=True)
    tally.add("t2", failed=False)
    after = hour_of(utcnow())
    counts = tally.take()
    # The hour is the naive UTC start of the hour, as utcnow() and the table have it.
    assert {hour for _, hour in counts} <= {before, after}
    hour = next(iter(counts))[1]
    assert hour.tzinfo is None
    assert hour == hour_of(hour)
    assert counts == {("t1", hour): [2, 1], ("t2", hour): [1, 0]}
    assert tally.take() == {}


def test_counts_given_back_after_a_failed_flush_are_added_to_the_new_ones() -> None:
    tally = UsageTally()
    tally.add("t1", failed=True)
    taken = tally.take()
    (key,) = taken
    tally.add("t1", failed=False)
    earlier = datetime(2020, 2, 29, 23) - timedelta(hours=1)
    tally.give_back({**taken, ("t3", earlier): [5, 2]})
    assert tally.take() == {key: [2, 1], ("t3", earlier): [5, 2]}
