"""The TypeScript SDK as an integrator gets it: `make sdk` packs the tarball, a scratch npm
project installs it (no dependencies come with it), tsc --strict accepts typed code using it,
and the scenario (tests/edge/sdk_scenarios/typescript_scenario.mjs) runs on Node against the
`make run` mesh with an API key."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.running_mesh import Integrator
from tests.support.sdk_build import run, tsc_strict

from .test_sdk_python import platform_api_key

pytestmark = pytest.mark.edge

SCENARIOS = Path(__file__).parent / "sdk_scenarios"


# Slow by design (thousands of calls / building and installing a package): beyond the default 120 s.
@pytest.mark.timeout(600)
async def test_the_tarball_in_a_scratch_project_runs_the_scenario(integrator: Integrator, sdk_typescript: Path) -> None:
    project = sdk_typescript
    installed = json.loads((project / "node_modules" / "@tenantmesh" / "sdk" / "package.json").read_text())
    assert not installed.get("dependencies"), "the SDK must need nothing but fetch"
    for name in ("typescript_scenario.mjs", "typescript_usage.ts"):
        shutil.copy(SCENARIOS / name, project / name)

    await asyncio.to_thread(tsc_strict, project, "typescript_usage.ts")

    key = await platform_api_key(integrator, "typescript-sdk")
    mesh = integrator.mesh
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(mesh.ca_file)}
    output = await asyncio.to_thread(
        run, "node", "typescript_scenario.mjs", mesh.https_url, key, cwd=project, env=env, timeout=120
    )
    assert "scenario passed" in output, output
