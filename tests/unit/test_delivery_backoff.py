"""Retry delays of the delivery queue."""

from __future__ import annotations

from services.runtime.delivery import DeliverySettings, backoff_seconds


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    settings = DeliverySettings(retry_base_seconds=10, retry_max_seconds=100)
    assert [backoff_seconds(n, settings, lambda: 1.0) for n in range(1, 7)] == [10, 20, 40, 80, 100, 100]
    assert [backoff_seconds(n, settings, lambda: 0.0) for n in range(1, 5)] == [5, 10, 20, 40]
    assert backoff_seconds(10_000, settings, lambda: 1.0) == 100  # no overflow however many attempts
