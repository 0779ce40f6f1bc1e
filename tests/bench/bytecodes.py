"""Python bytecodes the event loop runs per call, by function: a count that does not depend on
how busy the machine is, unlike CPU time and throughput.

    counter = BytecodeCounter(marker=some_function)  # a function every call runs exactly once
    with counter:
        ...  # calls served on this thread (sys.settrace: about 20x slower meanwhile)
    counter.per_call()  # {"module.py:function": bytecodes per call}

What a change to a call's own code saves shows here exactly, run after run; what it costs in
time depends also on what the bytecodes call in C, which this does not see. The event loop's own
bookkeeping (asyncio and selectors, labelled ``loop:``) and the database layers (SQLAlchemy and
the drivers, ``db:``) are counted apart: how much of them falls on a call depends on how many
calls each turn of the loop serves and how often a cache expires while the count slows the
calls down, which the load does change.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[2]) + "/"


# Label prefix -> the parts of a file name that put a function under it.
_APART = {
    "loop:": ("/asyncio/", "/selectors.py"),
    "db:": ("/sqlalchemy/", "/aiosqlite/", "/asyncmy/", "/greenlet/"),
}


def _label(filename: str, name: str) -> str:
    for prefix, parts in _APART.items():
        if any(part in filename for part in parts):
            return f"{prefix}{Path(filename).name}:{name}"
    filename = filename.removeprefix(_ROOT)
    if "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    elif filename.startswith("/"):
        filename = Path(filename).name
    return f"{filename}:{name}"


class BytecodeCounter:
    def __init__(self, marker: Callable[..., Any]) -> None:
        self._marker = marker.__code__
        self._counts: collections.Counter[Any] = collections.Counter()
        self.calls = 0

    def _trace(self, frame: FrameType, event: str, _arg: object) -> Callable[..., Any]:
        frame.f_trace_opcodes = True
        if event == "opcode":
            self._counts[frame.f_code] += 1
        elif event == "call" and frame.f_code is self._marker:
            self.calls += 1
        return self._trace

    def __enter__(self) -> BytecodeCounter:
        sys.settrace(self._trace)
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        sys.settrace(None)

    def per_call(self) -> dict[str, float]:
        calls = max(self.calls, 1)
        result: dict[str, float] = {}
        for code, count in self._counts.items():
            label = _label(code.co_filename, code.co_name)
            result[label] = result.get(label, 0.0) + count / calls
        return result


def compare(base: dict[str, float], other: dict[str, float], top: int) -> list[tuple[str, float, float]]:
    """The ``top`` functions by bytecodes per call ``other`` runs beyond ``base``: (function, base, other)."""
    names = set(base) | set(other)
    ranked = sorted(names, key=lambda name: other.get(name, 0.0) - base.get(name, 0.0), reverse=True)
    return [(name, base.get(name, 0.0), other.get(name, 0.0)) for name in ranked[:top]]


def split(per_call: dict[str, float]) -> dict[str, dict[str, float]]:
    """The counts by part: "own" (the calls' own code), "loop:" and "db:"."""
    parts: dict[str, dict[str, float]] = {"own": {}, **{prefix: {} for prefix in _APART}}
    for name, count in per_call.items():
        prefix = next((prefix for prefix in _APART if name.startswith(prefix)), "own")
        parts[prefix][name] = count
    return parts
