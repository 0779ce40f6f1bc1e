"""The console in a real browser: Playwright drives Debian's Chromium against the `make run` mesh
(web/tests/browser: sign-in, the operator's and the tenant's flows, axe on every page, both
languages, the service worker offline, what a browser two people share keeps). Failed runs leave
screenshots and traces in web/test-results/."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.running_mesh import MeshProcess

from .conftest import browser_env, npx

# Playwright drives the console with two browsers of its own: run alone, after the parallel part.
pytestmark = [pytest.mark.edge, pytest.mark.serial]


@pytest.mark.timeout(900)
async def test_the_browser_flows_pass(console_mesh: MeshProcess) -> None:
    result = await asyncio.to_thread(npx, "playwright", "test", env=browser_env(console_mesh), timeout=840)
    print(result.stdout[-20000:])
    assert result.returncode == 0, f"browser tests failed:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
