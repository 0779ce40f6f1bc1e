"""The seam where file uploads plug into submissions.

A FILE field's answer is a file-reference string (what an upload returned). Before a submission is
stored, every file reference in its answers goes through one ``FileReferences`` port: it says which
references it refuses (another tenant's, expired, over the field's limits, unknown). After a
submission is deleted, the port releases the files it carried.

Until a file store is wired in, ``NoFileStore`` refuses every reference: a form with a file field
can be built and published, but a submission with a file answer is INVALID_ARGUMENT at that answer
(ANSWER_FILE_REFERENCE_INVALID), never stored with a reference nobody checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.forms.engine import CompiledForm


@dataclass(frozen=True)
class FileAnswer:
    """One file reference in a submission's answers."""

    pointer: str  # JSON Pointer into the answers ("/documents/0/scan")
    field: str  # the field's path in the definition ("documents.scan")
    reference: str


@dataclass(frozen=True)
class RefusedFile:
    pointer: str
    message: str


class FileReferences(Protocol):
    async def check(self, submission_id: str, files: Sequence[FileAnswer]) -> list[RefusedFile]:
        """The references among ``files`` that the current tenant's submission may not carry. Called
        before the submission is stored; the file store may then bind accepted files to it."""
        ...

    async def release(self, submission_id: str, files: Sequence[FileAnswer]) -> None:
        """The submission was deleted: its files go too."""
        ...


class NoFileStore:
    """No uploads yet: every reference is refused."""

    async def check(self, submission_id: str, files: Sequence[FileAnswer]) -> list[RefusedFile]:
        return [RefusedFile(f.pointer, "no file upload with this reference exists") for f in files]

    async def release(self, submission_id: str, files: Sequence[FileAnswer]) -> None:
        return None


def file_answers(form: CompiledForm, answers: dict[str, Any]) -> list[FileAnswer]:
    """Every file reference in ``answers`` (as stored: hidden answers already dropped)."""
    found: list[FileAnswer] = []
    for element in form.value_elements:
        if element.type == "FILE":
            for pointer, value in _values_at(answers, element.path.split("."), ""):
                if isinstance(value, str):
                    found.append(FileAnswer(pointer, element.path, value))
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
