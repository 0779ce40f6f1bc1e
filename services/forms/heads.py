"""A form's head: what answering it needs of its row (id, key, status, latest version), and a
short-lived cache of heads for ValidateSubmission and ListSubmissions.

Validation stores nothing, so it answers from heads read a moment ago instead of opening a database
session per call (a connection checkout, the query and the session's closing round trip were most
of a validation's time). A listing finds its form's id and versions there too, saving one query of
its two. SubmitForm checks its answers against a cached head too, but its insert takes the
submission only while the form's row still is that head and not archived (services/forms/submissions.py),
so an archived form takes no submission however recently it was archived. A cached head is dropped
at once by this process's own changes of the form (``Forms`` calls ``drop`` after each commit), by
other replicas' through their ``form.*`` events, and after ``HEAD_TTL_SECONDS`` whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.forms.models import FormRow
from services.forms.reasons import FormsReason
from services.runtime.cache import MISS, Cache
from services.runtime.errors import NotFound
from services.runtime.events import Event, EventBus

HEAD_TTL_SECONDS: Final = 5.0
# The events that change a head (a submission's does not).
_HEAD_EVENTS: Final = ("form.published", "form.archived", "form.unarchived", "form.deleted")


def form_not_found() -> NotFound:
    return NotFound("no such form", reason=FormsReason.FORM_NOT_FOUND)


@dataclass(frozen=True)
class FormHead:
    """What answering a form needs of its row; not its draft (a definition is tens of kB)."""

    form_id: str
    key: str
    status: str
    latest_version: int


_FORM_HEAD = select(FormRow.form_id, FormRow.key, FormRow.status, FormRow.latest_version).where(
    FormRow.key == bindparam("key", type_=FormRow.key.type)
)
_FORM_HEAD_SHARED = _FORM_HEAD.with_for_update(read=True)


async def form_head(session: AsyncSession | AsyncConnection, key: str, *, for_share: bool = False) -> FormHead:
    """The head of the form ``key``; ``for_share``: locked against changes until the transaction ends."""
    query = _FORM_HEAD_SHARED if for_share else _FORM_HEAD
    row = (await session.execute(query, {"key": key})).one_or_none()
    if row is None:
        raise form_not_found()
    return FormHead(*row)


class FormHeads:
    """Heads read recently, by (tenant, key); for validation and listing (see the module docstring)."""

    def __init__(self) -> None:
        self._cache: Cache[tuple[str, str], FormHead] = Cache(
            "forms.heads", ttl_seconds=HEAD_TTL_SECONDS, max_entries=10_000
        )

    def get(self, tenant_id: str, key: str) -> FormHead | None:
        found = self._cache.get((tenant_id, key))
        return None if found is MISS else found

    def put(self, tenant_id: str, head: FormHead) -> None:
        self._cache.put((tenant_id, head.key), head)

    def drop(self, tenant_id: str, key: str) -> None:
        self._cache.pop((tenant_id, key))

    def subscribe(self, events: EventBus) -> None:
        """Other replicas' changes of forms drop their heads here."""
        for event_type in _HEAD_EVENTS:
            self._cache.drop_on(events, event_type, _head_of)


def _head_of(event: Event) -> tuple[str, str] | None:
    key = getattr(event.payload, "form_key", "")
    return (event.tenant_id, key) if event.tenant_id and key else None
