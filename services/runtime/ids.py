"""Identifiers: time-ordered UUIDs (version 7, RFC 9562).

Time ordering makes primary keys cluster well in B-trees and gives keyset
paging a stable creation order without a second sort column. Within one
process the order is strict, also for ids made in the same millisecond (RFC
9562 §6.2, method 2, "monotonic random"): the 74 bits after the timestamp
continue from the previous id by a random step instead of being drawn anew.
That matters wherever ids stand for order, e.g. the outbox relays events in id
order, so two events of one process made in the same millisecond are
published in the order they were made. Between processes ids are ordered by
millisecond only.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_RANDOM_BITS = 74  # rand_a (12) + rand_b (62)
_STEP_BITS = 32  # random step between ids of one millisecond: still unguessable
_MILLIS_MASK = (1 << 48) - 1


class _MonotonicClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._millis = 0
        self._random = 0

    def next(self) -> tuple[int, int]:
        with self._lock:
            millis = time.time_ns() // 1_000_000
            if millis > self._millis:
                self._millis = millis
                # The top bit starts clear, so ~2^41 same-millisecond steps fit before overflow.
                self._random = _random_bits(_RANDOM_BITS - 1)
            else:
                # Same millisecond, or the wall clock stepped back: stay on the last one.
                self._random += 1 + _random_bits(_STEP_BITS)
                if self._random >> _RANDOM_BITS:
                    self._millis += 1
                    self._random = _random_bits(_RANDOM_BITS - 1)
            return self._millis, self._random


def _random_bits(count: int) -> int:
    return int.from_bytes(os.urandom((count + 7) // 8), "big") >> (-count % 8)


_CLOCK = _MonotonicClock()


def uuid7() -> str:
    millis, rand = _CLOCK.next()
    rand_a = rand >> 62  # 12 bits
    rand_b = rand & ((1 << 62) - 1)  # 62 bits
    value = (millis & _MILLIS_MASK) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))
