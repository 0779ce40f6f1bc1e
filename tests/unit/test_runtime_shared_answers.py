"""Shared answers: a message marked as shared is serialized once and its bytes reused."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from services.runtime.shared_answers import SharedAnswers


def counting_serializer() -> tuple[list[Any], Any]:
    calls: list[Any] = []

    def serialize(message: Any) -> bytes:
        calls.append(message)
        return bytes(message.SerializeToString())

    return calls, serialize


def test_a_shared_answer_is_serialized_once_however_often_it_is_sent() -> None:
    answers = SharedAnswers()
    calls, plain = counting_serializer()
    serialize = answers.serializer(plain)
    assert serialize is not None
    message = answers.share(struct_pb2.Value(string_value="menu"))
    sent = [serialize(message) for _ in range(3)]
    assert sent == [message.SerializeToString()] * 3
    assert calls == []
    assert answers.reused == 3


def test_other_answers_go_through_the_methods_own_serializer() -> None:
    answers = SharedAnswers()
    calls, plain = counting_serializer()
    serialize = answers.serializer(plain)
    assert serialize is not None
    answers.share(struct_pb2.Value(string_value="shared"))
    other = struct_pb2.Value(string_value="fresh")  # equal content would not matter: identity does
    assert serialize(other) == other.SerializeToString()
    assert calls == [other]


def test_the_memo_is_bounded_and_forgets_the_least_recently_sent_first() -> None:
    answers = SharedAnswers(max_entries=2)
    calls, plain = counting_serializer()
    serialize = answers.serializer(plain)
    assert serialize is not None
    first = answers.share(struct_pb2.Value(number_value=1))
    second = answers.share(struct_pb2.Value(number_value=2))
    serialize(first)  # first is now the most recently sent
    answers.share(struct_pb2.Value(number_value=3))  # evicts second
    serialize(first)
    serialize(second)
    assert calls == [second]


def test_methods_without_a_serializer_keep_none() -> None:
    assert SharedAnswers().serializer(None) is None
