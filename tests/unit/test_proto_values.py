"""Values services write into messages, checked against what protobuf itself makes of them."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.runtime.proto_values import timestamp, timestamp_json


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 6, 17, 0, 0),
        datetime(2026, 12, 6, 17, 0, 0, 123000),
        datetime(2026, 12, 6, 17, 0, 0, 120),
        datetime(2026, 12, 6, 17, 0, 0, 999999),
        datetime(1970, 1, 1, 0, 0, 0, 1000),
        datetime(9999, 12, 31, 23, 59, 59, 500),
        datetime(1, 1, 1, 0, 0, 0),
        datetime(999, 3, 4, 5, 6, 7, 8000),
    ],
)
def test_timestamp_json_is_what_protobuf_prints(value: datetime) -> None:
    stamp = timestamp(value)
    assert stamp is not None
    assert timestamp_json(value) == stamp.ToJsonString()
