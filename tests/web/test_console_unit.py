"""The console's unit tests (Vitest + Testing Library, web/tests/unit): components and the API
layer, run under Node with jsdom."""

from __future__ import annotations

import asyncio
import os

import pytest

from .conftest import WEB, npx


@pytest.mark.timeout(300)
async def test_the_unit_tests_pass() -> None:
    if not (WEB / "node_modules" / ".bin" / "vitest").exists():
        pytest.fail("web/node_modules is missing: run `make console` (make test does)")
    result = await asyncio.to_thread(npx, "vitest", "run", env={**os.environ, "CI": "1"}, timeout=280)
    print(result.stdout[-10000:])
    assert result.returncode == 0, f"unit tests failed:\n{result.stdout[-10000:]}\n{result.stderr[-5000:]}"
