"""Struct documents and timestamps read and written directly: the same values the generic
ProtoJSON and well-known-type helpers give."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from services.runtime.errors import InvalidArgument
from services.runtime.json_documents import struct_to_dict
from services.runtime.proto_values import timestamp

DOCUMENT = {
    "text": 'é ✓ "quoted"',
    "empty": "",
    "whole": 3,
    "negative": -12,
    "big": 2**53,
    "fraction": 0.1,
    "flag": True,
    "off": False,
    "nothing": None,
    "nested": {"items": [{"qty": 2, "price": 3.5}, {}], "none": [], "deep": {"a": [[1, "x", None]]}},
}


def _whole_numbers_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_ints(item) for item in value]
    return value


def test_struct_reads_as_protojson_does_with_whole_numbers_as_ints() -> None:
    struct = struct_pb2.Struct()
    json_format.Parse(json.dumps(DOCUMENT), struct)
    struct.fields["unset"].CopyFrom(struct_pb2.Value())  # no kind: null in ProtoJSON
    expected = _whole_numbers_as_ints(json_format.MessageToDict(struct))
    document = struct_to_dict(struct, "answers")
    assert document == expected
    assert document["unset"] is None
    assert isinstance(document["whole"], int)
    assert document["flag"] is True


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_numbers_json_cannot_hold_are_invalid_input(number: float) -> None:
    struct = struct_pb2.Struct()
    struct.fields["list"].list_value.values.add().number_value = number
    with pytest.raises(InvalidArgument) as raised:
        struct_to_dict(struct, "answers")
    assert [v.field for v in raised.value.violations] == ["answers"]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 6, 12, 30, 1, 123456),
        datetime(1970, 1, 1),
        datetime(1969, 12, 31, 23, 59, 59, 999999),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ],
)
def test_timestamp_matches_from_datetime(moment: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment.replace(tzinfo=UTC))
    assert timestamp(moment) == expected
    assert timestamp(None) is None
