"""A submission's answers as stored: JSON text (exports, revisions, the indexed values' source)
and the same document as serialized ``google.protobuf.Struct`` bytes (every answer that returns
submissions).

A listing of 50 submissions of 30 answers spent most of its CPU building each ``Struct`` from a
dict in Python (``Struct.update``, a call per field); the bytes are written once when the answers
are stored and parsed in C by every read.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import struct_pb2

from services.runtime.json_documents import dict_to_struct


def struct_bytes(answers: dict[str, Any]) -> bytes:
    """What ``answers_struct`` holds for stored ``answers``."""
    return dict_to_struct(answers).SerializeToString()


def fill_answers(target: struct_pb2.Struct, answers_struct: bytes | None, answers_json: str) -> None:
    """Writes a stored submission's answers into the empty ``target``: from the Struct bytes, or,
    for a submission stored before they were kept (null), from its JSON, which holds the same."""
    if answers_struct is not None:
        target.MergeFromString(answers_struct)
    else:
        target.update(json.loads(answers_json))
