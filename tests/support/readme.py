"""Examples in README.md, as the tests that run them read them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example(language: str) -> str:
    """The fenced block right after ``<!-- integrate-example: LANGUAGE -->`` in README.md."""
    match = re.search(rf"<!-- integrate-example: {language} -->\n```\w+\n(.*?)\n```\n", README.read_text(), re.DOTALL)
    assert match is not None, f"README.md has no {language} integrate example"
    return match.group(1) + "\n"


def run_readme_example(language: str) -> dict[str, Any]:
    """Executes a Python example that defines things (a handler, a function) and returns its names."""
    names: dict[str, Any] = {"__name__": f"readme_{language.replace('-', '_')}"}
    exec(compile(readme_example(language), f"README.md ({language})", "exec"), names)
    return names


@dataclass(frozen=True)
class FencedBlock:
    """A fenced code block of README.md: its info string (``sh``, ``json``, ``python``; empty for a
    bare fence) and its text."""

    language: str
    text: str


def readme_section(heading: str) -> str:
    """The text under ``## HEADING`` up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", README.read_text(), re.DOTALL | re.MULTILINE)
    assert match is not None, f"README.md has no section {heading!r}"
    return match.group(1)


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every fenced block of ``text``, in order."""
    return [
        FencedBlock(language, body)
        for language, body in re.findall(r"^```(\w*)\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    ]


def shell_commands(script: str) -> list[str]:
    """The commands of a shell block, one per entry, without their comments: continuation lines
    (``\\``) and quotes spanning lines are joined; blank lines and comments are dropped."""
    commands: list[str] = []
    current: list[str] = []
    quote = ""
    comment = False
    for index, char in enumerate(script + "\n"):
        if comment:
            comment = char != "\n"
            if comment:
                continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not current or current[-1] in " \t\n"):
            comment = True
            continue
        elif char == "\n" and not (index and script[index - 1] == "\\"):
            if "".join(current).strip():
                commands.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    assert not quote, f"unterminated quote in README.md: {''.join(current)!r}"
    return commands
