"""The seam where file uploads plug into submissions.

A FILE field's answer is a file reference (the ``file_id`` an upload returned). Before a
submission is stored, every file reference in its answers goes through one ``FileReferences``
port, inside the submission's own transaction: it refuses what the submission may not carry
(another tenant's reference, an expired upload, someone else's, one over the field's limits) and
binds the rest to the submission, so a submission that fails binds nothing. Deleting a
submission (or a form with its submissions) releases their files in three steps around the
deleting transaction, and an edit of the
answers detaches the files it no longer references (see ``FileReferences``). The port's
implementation is ``services.forms.files.attachments``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf import json_format
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from tenantmesh.forms.v1 import form_pb2

from services.forms.engine import CompiledForm
from services.runtime.errors import Reason


@dataclass(frozen=True)
class FileAnswer:
    """One file reference in a submission's answers."""

    pointer: str  # JSON Pointer into the answers ("/documents/0/scan")
    field: str  # the field's path in the definition ("documents.scan")
    reference: str
    # The field's own limits (Field.file_rules), when it declares any.
    rules: form_pb2.FileRules | None = None


@dataclass(frozen=True)
class RefusedFile:
    pointer: str
    message: str
    reason: Reason


class FileReferences(Protocol):
    async def check(self, session: AsyncSession, submission_id: str, files: Sequence[FileAnswer]) -> list[RefusedFile]:
        """The references among ``files`` that the current tenant's submission may not carry; when
        there are none, binds them to the submission in ``session``'s transaction."""
        ...

    async def prepare_release(self, submission_id: str) -> list[str]:
        """Before the transaction that deletes the submission: notes its files for the sweeper."""
        ...

    async def mark_released(self, session: AsyncSession, submission_id: str) -> None:
        """In that transaction: the submission's files are to be deleted."""
        ...

    async def purge(self, file_ids: list[str]) -> None:
        """After its commit: deletes them."""
        ...

    async def prepare_release_all(self, submissions: Select[Any]) -> list[str]:
        """``prepare_release`` for every submission ``submissions`` (a query of submission ids)
        selects: before the transaction that deletes them all (a form purged with them)."""
        ...

    async def mark_all_released(self, session: AsyncSession, submissions: Select[Any], prepared: Sequence[str]) -> None:
        """In that transaction, before the submissions' rows go: their files are to be deleted.
        Raises ABORTED when they hold files ``prepared`` did not note (a submission stored since)."""
        ...

    async def detach_unreferenced(self, session: AsyncSession, submission_id: str, kept: Sequence[str]) -> list[str]:
        """In the transaction of an edit of the answers (after ``prepare_release``): the submission's
        files other than ``kept`` are detached and marked for deletion; returns their ids."""
        ...

    async def remind_released(self, file_ids: list[str]) -> None:
        """After that commit: the sweeper deletes the detached files at its next round."""
        ...


def file_rules_of(raw: dict[str, Any]) -> form_pb2.FileRules | None:
    """A field's ``fileRules`` (canonical proto JSON, as the definition holds it)."""
    rules = raw.get("fileRules")
    if not isinstance(rules, dict):
        return None
    return json_format.ParseDict(rules, form_pb2.FileRules())


def file_answers(form: CompiledForm, answers: dict[str, Any]) -> list[FileAnswer]:
    """Every file reference in ``answers`` (as stored: hidden answers already dropped)."""
    found: list[FileAnswer] = []
    for element in form.value_elements:
        if element.type == "FILE":
            rules = file_rules_of(element.raw)
            for pointer, value in _values_at(answers, element.path.split("."), ""):
                if isinstance(value, str):
                    found.append(FileAnswer(pointer, element.path, value, rules))
    return found


def _values_at(value: Any, keys: list[str], pointer: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _values_at(item, keys, f"{pointer}/{index}")
        return
    if not keys:
        yield pointer, value
        return
    if isinstance(value, dict) and keys[0] in value:
        escaped = keys[0].replace("~", "~0").replace("/", "~1")
        yield from _values_at(value[keys[0]], keys[1:], f"{pointer}/{escaped}")
