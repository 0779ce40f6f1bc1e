"""Values every service writes into its protobuf resources the same way: timestamps, etags, and
enums whose stored values are the proto enum's names without their prefix."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

from services.runtime.errors import FieldViolation, InvalidArgument

_EPOCH = datetime(1970, 1, 1)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A stored naive-UTC datetime as a Timestamp (None stays unset)."""
    if value is None:
        return None
    # Seconds and nanos computed here: Timestamp.FromDatetime goes through a time tuple and
    # costs twice as much, for every stamp of every resource a list returns.
    since = value.replace(tzinfo=None) - _EPOCH
    return timestamp_pb2.Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def requested_time(request: Message, field: str) -> datetime | None:
    """A request's Timestamp ``field`` as a naive-UTC datetime (None when unset). A value outside
    what a Timestamp may hold (years 1 to 9999, nanos below a second) is the caller's error."""
    if not request.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(request, field)
    try:
        return stamp.ToDatetime()
    except ValueError:
        violation = FieldViolation(field, "must be a time from 0001-01-01 to 9999-12-31 (UTC)")
        raise InvalidArgument(f"{field} is not a valid time", violations=[violation]) from None


def timestamp_json(value: datetime) -> str:
    """A stored naive-UTC datetime as the JSON of a Timestamp (RFC 3339 in UTC, with 0, 3 or 6
    fractional digits, as protobuf's JSON printing and the edge's transcoder write it), without
    building the message: for answers the service renders as JSON itself (rest_answers)."""
    # isoformat (in C, half the cost of strftime, and a four-digit year below 1000 too) writes
    # the seconds, then six fractional digits unless there are none.
    text = value.replace(tzinfo=None).isoformat()
    micros = value.microsecond
    if micros == 0 or micros % 1000:
        return f"{text}Z"
    return f"{text[:-3]}Z"  # whole milliseconds: three digits


def etag_of(revision: int) -> str:
    """The opaque etag of a row's revision counter (AIP-154)."""
    return str(revision)


E = TypeVar("E", bound=StrEnum)


def _prefix(proto_enum: EnumTypeWrapper) -> str:
    # Every enum of ours starts at <PREFIX>_UNSPECIFIED = 0 (buf lint's ENUM_ZERO_VALUE_SUFFIX).
    return proto_enum.Name(0).removesuffix("UNSPECIFIED")


def from_proto(kind: type[E], proto_enum: EnumTypeWrapper, value: int) -> E | None:
    """The member of ``kind`` (a StrEnum of the proto enum's names without their prefix) a proto
    value stands for; None for UNSPECIFIED."""
    return kind(proto_enum.Name(value).removeprefix(_prefix(proto_enum))) if value else None


def to_proto(proto_enum: EnumTypeWrapper, member: StrEnum) -> int:
    return int(proto_enum.Value(_prefix(proto_enum) + member.value))


def mirror_mismatch(kind: type[StrEnum], proto_enum: EnumTypeWrapper) -> set[str]:
    """Names in one but not the other: empty when ``kind`` mirrors the proto enum (a unit test checks)."""
    prefix = _prefix(proto_enum)
    names = {name.removeprefix(prefix) for name in proto_enum.keys()} - {"UNSPECIFIED"}  # noqa: SIM118 - not a dict
    return names ^ {member.value for member in kind}


def copy_fields(source: object, *names: str) -> dict[str, Any]:
    """``{name: source.name}`` for the fields a message takes as they are stored (``Message(**...)``)."""
    return {name: getattr(source, name) for name in names}


D = TypeVar("D")


def dataclass_from(kind: type[D], message: object) -> D:
    """A dataclass built from the message fields of the same names (a domain value mirroring a message)."""
    return kind(**{item.name: getattr(message, item.name) for item in fields(kind)})  # type: ignore[arg-type]
