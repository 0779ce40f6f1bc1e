"""ExportSubmissions: every submission of a form, of every version, as CSV or NDJSON, streamed.

Rows are read in keyset batches and written in chunks, so memory stays flat whatever the number of
submissions. CSV has a column per field path of any version (in the order versions introduced
them; a repeating group or multiple choice is one column holding its JSON), after the
submission's own columns.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import defer

from services.forms.answers import VersionCache
from services.forms.forms import form_by_key
from services.forms.models import FormVersionRow, SubmissionRow
from services.runtime.context import current_tenant
from services.runtime.db import DatabaseRouter
from services.runtime.proto_values import timestamp
from services.runtime.tenant_db import tenant_session

CSV, NDJSON = "text/csv; charset=utf-8", "application/x-ndjson"
BATCH: Final = 1000
CHUNK_BYTES: Final = 64 * 1024
FIXED_COLUMNS: Final = ("submission_id", "version", "status", "submitter", "create_time", "update_time", "note")
# A spreadsheet runs a cell that starts with one of these as a formula (or, for a tab or carriage
# return, after stripping it). Answers are anyone's text, and whoever opens the export is an
# administrator: such a cell is written with a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
# A sign followed only by digits and phone punctuation cannot name a function or a reference, so a
# phone number ("+62 21 555-0100") or a negative number keeps its text.
PLAIN_NUMBER: Final = re.compile(r"[+-][0-9 ().-]*")


def _time(value: Any) -> str:
    stamp = timestamp(value)
    return stamp.ToJsonString() if stamp is not None else ""


def spreadsheet_text(text: str) -> str:
    """The text as a spreadsheet shows it, never as a formula it would run (CSV injection)."""
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_text(value)
    # Numbers, booleans, and a repeating group's or multiple choice's JSON ("[" or "{" first).
    return json.dumps(value, ensure_ascii=False)


def _at(answers: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(answers, dict):
            return None
        answers = answers.get(key)
    return answers


class Exporter:
    def __init__(self, db: DatabaseRouter, cache: VersionCache) -> None:
        self._db = db
        self._cache = cache

    async def _columns(self, form_key: str) -> tuple[str, list[str]]:
        """The form's id and its field paths over every version (containers' inner fields flattened,
        repeating groups whole)."""
        tenant_id = current_tenant().tenant_id
        paths: list[str] = []
        async with tenant_session(self._db) as session:
            form = await form_by_key(session, form_key)
            versions = (
                await session.execute(
                    select(FormVersionRow.version)
                    .where(FormVersionRow.form_id == form.form_id)
                    .order_by(FormVersionRow.version)
                )
            ).scalars()
            for version in list(versions):
                compiled = (await self._cache.get(session, tenant_id, form.form_id, version)).compiled
                for element in compiled.value_elements:
                    if element.repeats or element.type == "GROUP":
                        continue
                    if element.path not in paths:
                        paths.append(element.path)
        return form.form_id, paths

    async def export(self, form_key: str, ndjson: bool) -> AsyncIterator[tuple[str, bytes]]:
        """(content type, bytes) chunks. The form is looked up first: an unknown form raises before
        anything is sent."""
        form_id, paths = await self._columns(form_key)
        split = [path.split(".") for path in paths]
        content_type = NDJSON if ndjson else CSV
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if not ndjson:
            writer.writerow([*FIXED_COLUMNS, *paths])
        after = ""
        while True:
            # The JSON is what an export writes; the same answers' Struct bytes are not read.
            query = (
                select(SubmissionRow)
                .options(defer(SubmissionRow.answers_struct))
                .where(SubmissionRow.form_id == form_id)
            )
            if after:
                query = query.where(SubmissionRow.submission_id > after)
            async with tenant_session(self._db) as session:
                rows = list((await session.execute(query.order_by(SubmissionRow.submission_id).limit(BATCH))).scalars())
            for row in rows:
                answers = json.loads(row.answers_json)
                fixed = (
                    row.submission_id,
                    row.version,
                    row.status,
                    row.submitter,
                    _time(row.create_time),
                    _time(row.update_time),
                    row.note,
                )
                if ndjson:
                    record = dict(zip(FIXED_COLUMNS, fixed, strict=True))
                    record["answers"] = answers
                    buffer.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                else:
                    writer.writerow([*map(_cell, fixed), *(_cell(_at(answers, parts)) for parts in split)])
                if buffer.tell() >= CHUNK_BYTES:
                    yield content_type, buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
            if len(rows) < BATCH:
                break
            after = rows[-1].submission_id
        # The last chunk (or the only one: a header alone, or nothing, for a form without submissions).
        yield content_type, buffer.getvalue().encode()
