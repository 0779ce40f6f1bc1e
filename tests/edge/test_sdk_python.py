"""The Python SDK as an integrator gets it: `make sdk` builds the wheel, a fresh virtualenv
outside the repository installs it, mypy --strict accepts code using it, and the scenario
(tests/edge/sdk_scenarios/python_scenario.py) runs against the `make run` mesh with an API key."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from services.runtime.context import PLATFORM_TENANT_ID
from tests.support.running_mesh import Integrator
from tests.support.sdk_build import mypy_strict, run

pytestmark = pytest.mark.edge

SCENARIO = Path(__file__).parent / "sdk_scenarios" / "python_scenario.py"


async def platform_api_key(who: Integrator, name: str) -> str:
    """A platform service account with the platform-admin role: what an operator hands an integrator."""
    async with who.mesh.client() as client:
        created = await client.post(
            "/v1/serviceAccounts",
            json={"name": name, "roles": ["platform-admin"]},
            headers=who.headers(who.admin_token, PLATFORM_TENANT_ID),
        )
    assert created.status_code == 200, created.text
    key: str = created.json()["apiKey"]
    return key


# Slow by design (thousands of calls / building and installing a package): beyond the default 120 s.
@pytest.mark.timeout(600)
async def test_the_wheel_in_a_fresh_virtualenv_runs_the_scenario(
    integrator: Integrator, sdk_python: Path, tmp_path: Path
) -> None:
    python = sdk_python
    script = tmp_path / "scenario.py"
    shutil.copy(SCENARIO, script)

    await asyncio.to_thread(mypy_strict, python, script, tmp_path)

    key = await platform_api_key(integrator, "python-sdk")
    mesh = integrator.mesh
    output = await asyncio.to_thread(run, python, script, mesh.https_url, str(mesh.ca_file), key, cwd=tmp_path)
    assert "scenario passed" in output, output
