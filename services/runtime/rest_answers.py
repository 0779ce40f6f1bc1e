"""Answers REST clients get as JSON the service rendered, passed through by the edge.

The edge's transcoder prints a typed answer as JSON on every call (the print options of
envoy/envoy.yaml.j2: lowerCamelCase names, fields without presence printed even when empty,
enums by name, 64-bit integers as strings). For an answer many calls share (a cached menu of a
few hundred entries) that printing, per call, is most of what the edge spends. An RPC returning
``google.api.HttpBody`` and declaring ``(tenantmesh.type.v1.json_rendering_of)`` answers the same
document rendered here, once per shared answer; the edge sends its bytes as they are.
"""

from __future__ import annotations

import json
from typing import Generic, TypeVar

from google.api import httpbody_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from services.runtime.shared_answers import share

JSON_CONTENT_TYPE = "application/json"
M = TypeVar("M", bound=Message)


def edge_json(message: Message) -> bytes:
    """``message`` as the edge's transcoder prints it (the same names, fields and values)."""
    document = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def json_body(message: Message) -> httpbody_pb2.HttpBody:
    """``message`` rendered for an RPC declaring ``json_rendering_of``."""
    return httpbody_pb2.HttpBody(content_type=JSON_CONTENT_TYPE, data=edge_json(message))


def json_text_body(text: str) -> httpbody_pb2.HttpBody:
    """A JSON document the service wrote in the edge's shape of the typed answer (its
    lowerCamelCase names, every field printed), for an RPC declaring ``json_rendering_of`` whose
    answer is cheaper to write than to print from a message (stored JSON spliced in)."""
    return httpbody_pb2.HttpBody(content_type=JSON_CONTENT_TYPE, data=text.encode())


class RenderedAnswer(Generic[M]):
    """A typed answer and, made on first demand, its JSON body: native gRPC callers that never ask
    for the JSON do not pay for it, REST callers pay once per answer. ``shared``: many calls get
    this answer unchanged (a cached one), so both forms are serialized once (shared_answers)."""

    __slots__ = ("_body", "_shared", "answer")

    def __init__(self, answer: M, *, shared: bool) -> None:
        self.answer = share(answer) if shared else answer
        self._shared = shared
        self._body: httpbody_pb2.HttpBody | None = None

    def body(self) -> httpbody_pb2.HttpBody:
        if self._body is None:
            body = json_body(self.answer)
            self._body = share(body) if self._shared else body
        return self._body
