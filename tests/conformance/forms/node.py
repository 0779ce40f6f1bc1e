"""Runs the browser module's conformance runner under Node with one batch of work."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
RUNNER = REPO / "packages" / "form-engine" / "dist" / "tools" / "conformance.js"


def run_node(batch: dict[str, Any]) -> dict[str, Any]:
    """The runner's answer to ``batch``; fails (never skips) when Node or the built module is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the browser module's conformance cannot be checked")
    if not RUNNER.exists():
        pytest.fail(f"{RUNNER.relative_to(REPO)} is missing: run 'make form-engine'")
    completed = subprocess.run(
        [node, str(RUNNER)], input=json.dumps(batch), capture_output=True, text=True, timeout=120, check=False
    )
    if completed.returncode != 0:
        pytest.fail(f"the Node runner failed: {completed.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(completed.stdout)
    return answer
