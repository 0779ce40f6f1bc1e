"""Values every service writes into its protobuf resources the same way."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A stored naive-UTC datetime as a Timestamp (None stays unset)."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.replace(tzinfo=UTC))
    return stamp


def etag_of(revision: int) -> str:
    """The opaque etag of a row's revision counter (AIP-154)."""
    return str(revision)
