from __future__ import annotations

import time
import uuid

import pytest

from services.runtime.ids import uuid7


def test_version_and_variant_bits() -> None:
    for _ in range(200):
        value = uuid.UUID(uuid7())
        assert value.version == 7
        assert value.variant == uuid.RFC_4122


def test_canonical_lowercase_text() -> None:
    text = uuid7()
    assert text == str(uuid.UUID(text))
    assert len(text) == 36


def test_timestamp_is_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(uuid7())
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_ids_from_later_milliseconds_sort_after_earlier_ones() -> None:
    ids = []
    for _ in range(5):
        ids.append(uuid7())
        time.sleep(0.002)
    # Text order is what keyset paging uses.
    assert ids == sorted(ids)


def test_ids_are_unique() -> None:
    ids = {uuid7() for _ in range(10_000)}
    assert len(ids) == 10_000


def test_ids_of_one_millisecond_still_sort_in_creation_order() -> None:
    ids = [uuid7() for _ in range(20_000)]  # thousands per millisecond
    millis = [uuid.UUID(i).int >> 80 for i in ids]
    assert len(set(millis)) < len(ids)  # the loop did make several ids per millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_keep_their_order_when_the_wall_clock_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    first = uuid7()
    earlier = (uuid.UUID(first).int >> 80) - 5_000  # five seconds back
    monkeypatch.setattr(time, "time_ns", lambda: earlier * 1_000_000)
    later = [uuid7() for _ in range(100)]
    assert [first, *later] == sorted([first, *later])
