"""What every resource-oriented service does the same way: etags, revisions, update masks, stamps.

A stored resource carries a ``revision`` counter; its etag is that counter as a
string (AIP-154). A change names the fields it touches in an ``update_mask`` and
may send the etag it read: a stale etag is ABORTED (ETAG_MISMATCH), and the
write itself is conditional on the revision read, so two concurrent writers
cannot both win. Paging lives in :mod:`services.runtime.paging`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import inspect, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.clock import utcnow
from services.runtime.errors import Aborted, CommonReason, FieldViolation, InvalidArgument
from services.runtime.proto_values import etag_of, timestamp


class Revisioned(Protocol):
    """A mapped row with a revision counter."""

    revision: int


def check_etag(revision: int, etag: str, what: str) -> None:
    """An empty etag asks for no check; a stale one is ABORTED."""
    if etag and etag != etag_of(revision):
        raise Aborted(f"the {what} changed since it was read; read it again", reason=CommonReason.ETAG_MISMATCH)


def changed_concurrently(what: str) -> Aborted:
    return Aborted(f"the {what} changed concurrently; read it again", reason=CommonReason.ETAG_MISMATCH)


def check_update_mask(paths: Sequence[str], updatable: Sequence[str], field: str = "update_mask") -> None:
    """The mask must name fields to change, each one of ``updatable``.

    protovalidate's ``field_mask.in`` also admits sub-paths ("labels.env") and an empty
    mask; either would be a silent no-op that still changes the etag.
    """
    if not paths or any(path not in updatable for path in paths):
        raise InvalidArgument(
            f"{field} must name fields to change",
            violations=[FieldViolation(field, f"paths must be among {', '.join(updatable)}")],
        )


async def bump_revision(session: AsyncSession, row: Revisioned, what: str, **values: Any) -> None:
    """Writes ``values`` to ``row`` only if nobody changed it since it was read (its revision), with the
    next revision and, if the table has one, a new ``update_time``; ABORTED (ETAG_MISMATCH) otherwise."""
    mapper = inspect(type(row))
    model: Any = type(row)
    if "update_time" in mapper.columns:
        values.setdefault("update_time", utcnow())
    statement = (
        update(model)
        .where(*(column == getattr(row, mapper.get_property_by_column(column).key) for column in mapper.primary_key))
        .where(model.revision == row.revision)
        .values(**values, revision=row.revision + 1)
    )
    if getattr(await session.execute(statement), "rowcount", 0) != 1:
        raise changed_concurrently(what)


def stamps(row: Any, *, etag: bool = True) -> dict[str, Any]:
    """The times and etag a resource message carries, from a row or record with the same names:
    ``create_time``, ``update_time`` and ``delete_time`` where present, ``etag`` from ``revision``."""
    found: dict[str, Any] = {
        name: timestamp(getattr(row, name))
        for name in ("create_time", "update_time", "delete_time")
        if hasattr(row, name)
    }
    if etag and hasattr(row, "revision"):
        found["etag"] = etag_of(row.revision)
    return found
