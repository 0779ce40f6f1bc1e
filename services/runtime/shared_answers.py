"""Answers many calls share, serialized once.

A handler that answers from a cache returns the same message object call after call, and gRPC
would serialize it again for every call (a menu of a few hundred entries: ~45 us each time).
An answer handed to :func:`share` is serialized there, once; the pipeline's response serializer
then sends those bytes whenever that very object is answered. A shared answer must not be
changed afterwards — the caches that share them already require that of their callers.

The memo is the process's (answers are told apart by identity, and each entry keeps its message
alive, so an id is never reused while its bytes are held) and bounded: the least recently
answered entries are forgotten first, and a forgotten answer is simply serialized per call again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)
Serializer = Callable[[Any], bytes]


class SharedAnswers:
    def __init__(self, max_entries: int = 1024) -> None:
        self._max_entries = max_entries
        self._serialized: OrderedDict[int, tuple[Message, bytes]] = OrderedDict()
        # Answers sent from the memo (tests and benchmarks read it).
        self.reused = 0

    def share(self, message: M) -> M:
        self._serialized[id(message)] = (message, message.SerializeToString())
        self._serialized.move_to_end(id(message))
        if len(self._serialized) > self._max_entries:
            self._serialized.popitem(last=False)
        return message

    def serializer(self, plain: Serializer | None) -> Serializer | None:
        """``plain`` (a method's response serializer), answering shared messages from the memo."""
        if plain is None:
            return None
        memo = self._serialized

        def serialize(message: Any) -> bytes:
            found = memo.get(id(message))
            if found is not None and found[0] is message:
                memo.move_to_end(id(message))
                self.reused += 1
                return found[1]
            return plain(message)

        return serialize


SHARED_ANSWERS = SharedAnswers()


def share(message: M) -> M:
    """Marks ``message`` as an answer many calls will get unchanged: it is serialized once."""
    return SHARED_ANSWERS.share(message)
