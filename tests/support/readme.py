"""Examples in README.md, as the tests that run them read them."""

from __future__ import annotations

import re
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
