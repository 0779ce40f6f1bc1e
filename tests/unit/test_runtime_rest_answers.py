"""Answers rendered as JSON by the service: the document the edge's transcoder would print, made once."""

from __future__ import annotations

import json

from tenantmesh.forms.v1 import file_service_pb2
from tenantmesh.menus.v1 import menu_pb2

from services.runtime.rest_answers import JSON_CONTENT_TYPE, RenderedAnswer, edge_json, json_body
from services.runtime.shared_answers import SHARED_ANSWERS


def test_the_edge_print_options_hold_names_empty_fields_enums_and_64_bit_integers() -> None:
    item = menu_pb2.MenuItem(key="custom/ütf", kind=menu_pb2.ENTRY_KIND_SECTION, label="Bahasa — ü")
    assert json.loads(edge_json(item)) == {
        "key": "custom/ütf",
        "kind": "ENTRY_KIND_SECTION",
        "label": "Bahasa — ü",
        "icon": "",
        "route": "",
        "externalUrl": "",
        "formId": "",
        "children": [],
    }
    # Compact, as the edge prints (add_whitespace: false), and UTF-8 rather than escapes.
    assert b" " not in edge_json(menu_pb2.MenuItem(key="a"))
    assert "ü".encode() in edge_json(item)
    sized = json.loads(edge_json(file_service_pb2.File(size_bytes=2**40)))
    assert sized["sizeBytes"] == str(2**40)
    assert sized["state"] == "FILE_STATE_UNSPECIFIED"
    assert "expireTime" not in sized  # a message field without a value is left out, as the edge does


def test_a_shared_answer_is_rendered_once_and_its_body_sent_from_the_memo() -> None:
    rendered = RenderedAnswer(menu_pb2.MenuItem(key="platform/users"), shared=True)
    body = rendered.body()
    assert rendered.body() is body
    assert body.content_type == JSON_CONTENT_TYPE
    assert json.loads(body.data)["key"] == "platform/users"
    serialize = SHARED_ANSWERS.serializer(lambda message: message.SerializeToString())
    assert serialize is not None
    before = SHARED_ANSWERS.reused
    assert serialize(body) == body.SerializeToString()
    assert serialize(rendered.answer) == rendered.answer.SerializeToString()
    assert SHARED_ANSWERS.reused == before + 2


def test_an_answer_for_one_call_is_rendered_but_not_kept() -> None:
    rendered = RenderedAnswer(menu_pb2.MenuItem(key="custom/once"), shared=False)
    serialize = SHARED_ANSWERS.serializer(lambda message: message.SerializeToString())
    assert serialize is not None
    before = SHARED_ANSWERS.reused
    serialize(rendered.body())
    serialize(rendered.answer)
    assert SHARED_ANSWERS.reused == before
    assert rendered.body() == json_body(rendered.answer)
